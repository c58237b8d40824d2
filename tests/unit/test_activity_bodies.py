"""The stored form of activity bodies: compressed, round-tripping, capped when read back."""

from __future__ import annotations

import json
import zlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dsm_core.redfish.redaction import MAX_UNPACKED, keep_head, pack, unpack

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=50),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
                    max_leaves=30)


@given(JSON, JSON, JSON)
def test_what_is_packed_is_what_is_read_back(headers: Any, request: Any, response: Any) -> None:
    blob = pack(headers, request, response)
    if headers is None and request is None and response is None:
        assert blob is None
        return
    assert unpack(blob) == {"headers": headers, "request": request, "response": response}


def test_a_redfish_body_shrinks_several_fold() -> None:
    body = {"@odata.id": "/redfish/v1/Systems/System.Embedded.1", "Members": [
        {"@odata.id": f"/redfish/v1/UpdateService/FirmwareInventory/Installed-{i}-2.19.1",
         "Name": "BIOS", "Version": "2.19.1", "Status": {"Health": "OK", "State": "Enabled"}} for i in range(40)]}
    blob = pack(None, None, body)
    assert blob is not None and len(blob) * 5 < len(json.dumps(body))


def test_a_bomb_or_garbage_reads_as_a_marker_not_an_exception() -> None:
    bomb = zlib.compress(b'{"response":"' + b"A" * (MAX_UNPACKED + 10) + b'"}', 9)
    assert len(bomb) < 100_000
    assert "larger than" in unpack(bomb)["response"]["unreadable"]
    assert "not a DSM activity record" in unpack(b"\x00\x01garbage")["response"]["unreadable"]
    assert unpack(zlib.compress(b"[1, 2]")) == {"headers": None, "request": None, "response": None}


def test_a_successful_read_keeps_only_its_head() -> None:
    big = {"Attributes": {f"Attr{i}": "x" * 20 for i in range(500)}}
    head = keep_head(big, 1)
    assert head["size"] > 10_000 and len(head["head"]) == 1024 and "max_read_body_kb" in head["kept"]
    assert keep_head({"PowerState": "On"}, 1) == {"PowerState": "On"}
    assert keep_head(big, 0) is None
