"""The client's typed views and redaction, on real iDRAC data (the R750 capture) and Dell's quirks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dsm_core.redfish.models import (
    FirmwareItem,
    LogEntryView,
    ManagerView,
    ServiceRootView,
    SystemView,
    idrac_generation,
    parse_time,
)
from dsm_core.redfish.redaction import REDACTED, redact, truncate
from tests.conftest import SHARED

CAPTURE = SHARED / "testbeds" / "mockups" / "dell-r750-idrac9-6.00" / "redfish" / "v1"


def _load(path: str) -> dict:
    return json.loads((CAPTURE / path / "index.json").read_text())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-11T00:12:59-05:00", datetime(2024, 6, 11, 5, 12, 59, tzinfo=UTC)),
        ("2020-4-28T15:25:21+00:00", datetime(2020, 4, 28, 15, 25, 21, tzinfo=UTC)),  # Dell: not zero-padded
        ("2024-03-26T22:10:57", datetime(2024, 3, 26, 22, 10, 57, tzinfo=UTC)),  # DellJob: no offset
        ("2022-11-16T02:09:43Z", datetime(2022, 11, 16, 2, 9, 43, tzinfo=UTC)),
    ],
)
def test_parse_time_tolerates_dell_formats(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("bad", ["TIME_NA", "", None, 42, "2024-13-40T99:00:00"])
def test_parse_time_gives_none_for_non_dates(bad: object) -> None:
    assert parse_time(bad) is None


def test_views_parse_every_capture_resource_they_model() -> None:
    root = ServiceRootView.parse(_load(""))
    assert root.is_dell and root.service_tag == "F54P1G3" and root.redfish_version == "1.13.1"
    manager = ManagerView.parse(_load("Managers/iDRAC.Embedded.1"))
    assert manager.generation == 9 and manager.firmware_version == "6.00.30.00"
    assert manager.action(
        "ExportSystemConfiguration",
    ).endswith("EID_674_Manager.ExportSystemConfiguration")
    system = SystemView.parse(_load("Systems/System.Embedded.1"))
    assert (system.service_tag, system.model, system.power_state) == ("F54P1G3", "PowerEdge R750", "On")
    assert system.rollups["PS"] == "OK" and system.system_id == 2318 and "Pxe" in system.boot.allowed_targets
    for member in _load("UpdateService/FirmwareInventory")["Members"]:
        item = FirmwareItem.parse(_load(member["@odata.id"].removeprefix("/redfish/v1/")))
        assert item is not None and item.version and item.status in ("Installed", "Previous", "Current")
    for folder in (
        "Managers/iDRAC.Embedded.1/LogServices/Sel/Entries",
        "Managers/iDRAC.Embedded.1/LogServices/Lclog/Entries",
    ):
        for member in _load(folder)["Members"]:
            entry = LogEntryView.parse(member)
            assert entry is not None and entry.created is not None and entry.created.tzinfo is UTC


def test_generation_from_manager_model() -> None:
    assert [idrac_generation(m, None) for m in ("13G Monolithic", "14G Modular", "16G Monolithic", "17G DC")] == [
        8,
        9,
        9,
        10,
    ]
    assert idrac_generation(None, "2.84.84.84") == 8 and idrac_generation("", None) is None


def test_redaction_and_truncation() -> None:
    body = {
        "UserName": "root",
        "Password": "calvin",
        "ShareParameters": {"Password": "x", "UserName": "svc"},
        "Headers": {"X-Auth-Token": "abc", "Authorization": "Basic cm9vdDpjYWx2aW4="},
        "Oem": [{"passwd": "y"}],
    }
    text = json.dumps(redact(body))
    for secret in ("calvin", '"x"', "abc", "cm9vdDpjYWx2aW4=", '"y"'):
        assert secret not in text
    assert redact(body)["Password"] == REDACTED and redact(body)["UserName"] == "root"
    big = {"a": "z" * 5000}
    cut = truncate(big, 1)
    assert cut["truncated"] is True and len(cut["head"]) == 1024
    assert truncate(big, 100) == big
