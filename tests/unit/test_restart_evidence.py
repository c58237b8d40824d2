"""When is a restart done? Only with evidence that the host went down and came back: the power seen Off,
LastResetTime moved, or the boot progress seen leaving its state — never because the server "is On".
The iDRAC's answers are scripted; ``dell.wait_restarted`` is the real code deciding."""

from __future__ import annotations

from typing import Any, cast

import pytest

from dsm_core.redfish import dell
from dsm_core.redfish.client import IdracClient


def scripted(bodies: list[dict[str, Any]]) -> Any:
    return cast(IdracClient, Scripted(bodies))


class Scripted:
    """Answers GET System with the next body of a script (the last one repeats)."""

    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        self.bodies = bodies
        self.asked = 0

    async def get(self, path: str, params: Any = None) -> dict[str, Any]:
        assert path == dell.SYSTEM
        body = self.bodies[min(self.asked, len(self.bodies) - 1)]
        self.asked += 1
        return body


def _on(reset: str | None = "2026-11-30T10:00:00+00:00", boot: str | None = None, power: str = "On") -> dict[str, Any]:
    body: dict[str, Any] = {"PowerState": power}
    if reset is not None:
        body["LastResetTime"] = reset
    if boot is not None:
        body["BootProgress"] = {"LastState": boot}
    return body


@pytest.mark.parametrize(("script", "evidence"), [
    ([_on(power="PoweringOff"), _on(power="Off"), _on()], "power went Off"),
    ([_on(), _on(reset="2026-11-30T10:05:00+00:00")], "LastResetTime moved"),
    ([_on(reset=None, boot="OSRunning"), _on(reset=None, boot="SystemHardwareInitializationComplete"),
      _on(reset=None, boot="OSRunning")], "boot progress left OSRunning"),
])
async def test_evidence_of_a_restart(script: list[dict[str, Any]], evidence: str) -> None:
    client = scripted(script)
    before = await dell.power_mark(scripted([_on(boot="OSRunning" if "boot" in evidence else None,
                                                 reset=None if "boot" in evidence else "2026-11-30T10:00:00+00:00")]))
    found = await dell.wait_restarted(client, before, timeout=5, interval=0)
    assert found is not None and evidence in found


async def test_on_all_along_is_not_a_restart() -> None:
    """What DSM used to accept: GracefulRestart "done" after 0 s because the server was On."""
    client = scripted([_on(boot="OSRunning")])
    before = await dell.power_mark(client)
    assert await dell.wait_restarted(client, before, timeout=0.3, interval=0.05) is None
    assert cast(Scripted, client).asked > 2, "it kept looking until the deadline"


async def test_down_but_not_back_is_not_done() -> None:
    client = scripted([_on(), _on(power="Off")])
    before = await dell.power_mark(scripted([_on()]))
    assert await dell.wait_restarted(client, before, timeout=0.3, interval=0.05) is None


def test_a_resumed_task_compares_against_the_boot_it_recorded() -> None:
    mark = dell.PowerMark("On", "2026-11-30T10:00:00+00:00", None)
    assert dell.PowerMark.from_dict(mark.as_dict()) == mark
    assert dell.PowerMark.from_dict({"power_state": 3, "last_reset": None}) == dell.PowerMark(None, None, None)
