"""OpenManage Enterprise: the REST client and what DSM reads from an appliance."""
