"""Pure checks on what a device hands back: links resolved on its origin, expanded members recognised."""

from __future__ import annotations

import pytest

from dsm_core.redfish.client import RedfishError, resolve_on_origin
from dsm_core.redfish.dell import SYSTEM, _expanded

BASE = "https://127.0.0.1:8443"


@pytest.mark.parametrize("link", [
    "/redfish/v1/Systems/System.Embedded.1",
    "https://127.0.0.1:8443/redfish/v1/Systems/System.Embedded.1",
    "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Entries?$skip=50",
])
def test_links_on_the_idracs_own_origin_are_followed_as_paths(link: str) -> None:
    assert resolve_on_origin(BASE, link, "127.0.0.1:8443").startswith("/redfish/v1/")


@pytest.mark.parametrize("link", [
    "https://127.0.0.2:8443/redfish/v1", "http://127.0.0.1:8443/redfish/v1", "https://127.0.0.1:443/redfish/v1",
    "//127.0.0.2/redfish/v1", "https://root:calvin@127.0.0.1:8443/x", "redfish/v1", "",
    "/redfish/v1/\r\nX-Evil: 1", "/redfish/v1\\..\\x", "ftp://127.0.0.1:8443/x",
])
def test_links_off_the_origin_or_malformed_are_refused(link: str) -> None:
    with pytest.raises(RedfishError, match="refused"):
        resolve_on_origin(BASE, link, "127.0.0.1:8443")


def test_an_expanded_member_is_found_only_when_it_really_is_inline() -> None:
    system = {"@odata.id": SYSTEM, "Id": "System.Embedded.1", "PowerState": "On"}
    assert _expanded([system], SYSTEM) is system
    assert _expanded({"@odata.id": SYSTEM}, SYSTEM) is None  # a link, not expanded
    for hostile in (5, None, [1, "x"], {"@odata.id": 7, "a": 1, "b": 2}, [{"@odata.id": ["x"], "a": 1, "b": 2}]):
        assert _expanded(hostile, SYSTEM) is None
