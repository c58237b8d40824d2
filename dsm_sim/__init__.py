"""A simulated Dell iDRAC fleet (Redfish over HTTPS on loopback addresses) for the demo and the tests."""
