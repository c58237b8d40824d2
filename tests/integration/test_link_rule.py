"""An operator links a credential set to a server only inside the set's ranges, on every input path (the worker
applies the same rule again where it attaches the password: tests/worker/test_secret_destinations.py)."""

from __future__ import annotations

import pytest

from dsm_core.credentials.secret import Secret
from dsm_core.services import credentials, servers
from dsm_core.services.context import ServiceContext
from dsm_core.services.errors import PermissionDenied


def test_an_operator_links_a_set_only_inside_its_ranges_on_every_path(
        admin: ServiceContext, operator: ServiceContext) -> None:
    """add, update and the CSV import."""
    credentials.add_credential_set(admin, "prod", "root", Secret("pw"), ranges=["10.0.0.0/8"])
    servers.add_server(operator, "10.1.1.1", credential_set="prod")  # inside: an operator's to link
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        servers.add_server(operator, "192.168.1.5", credential_set="prod")
    servers.add_server(operator, "192.168.1.6")
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        servers.update_server(operator, "192.168.1.6", credential_set="prod")
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        servers.import_servers_csv(operator, "ip_address,credential_set\n10.1.1.2,prod\n192.168.1.7,prod\n")
    servers.update_server(admin, "192.168.1.6", credential_set="prod")  # an admin's link
