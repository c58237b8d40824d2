"""The simulator's admin API (plain HTTP on its own loopback port): inspect the fleet, inject faults.

GET  /fleet                       every iDRAC: identity, power, open sessions, counters, faults
GET  /servers/IP:PORT              one of them
POST /faults   {"targets": "all"|[IP:PORT...], "set": {fault: value}} or {"targets": ..., "clear": true}
POST /health   {"targets": ..., "faults": ["psu", "fan", "dimm", "disk", "temp"]}
POST /power    {"targets": ..., "state": "On"|"Off"}       set power directly (test setup)
POST /bios     {"targets": ..., "set": {attribute: value}}  change BIOS values as if at the console
POST /counters/reset {"targets": ...}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dsm_sim.http import Request, Response
from dsm_sim.spec import HEALTH_FAULTS
from dsm_sim.state import Counters, Faults, SimIdrac

if TYPE_CHECKING:
    from dsm_sim.fleet import Fleet


def describe(idrac: SimIdrac) -> dict[str, Any]:
    idrac.tick()
    return {
        "endpoint": idrac.spec.endpoint,
        "address": idrac.spec.address,
        "port": idrac.spec.port,
        "service_tag": idrac.spec.service_tag,
        "model": f"PowerEdge {idrac.hw.model}",
        "idrac_generation": idrac.generation,
        "idrac_firmware": idrac.firmware,
        "bios_version": idrac.bios_version,
        "bios": dict(idrac.bios),
        "bios_pending": dict(idrac.bios_pending),
        "boot": {"override_target": idrac.boot_override_target, "override_enabled": idrac.boot_override_enabled,
                 "order": list(idrac.boot_order), "uefi_target": idrac.uefi_target},
        "power_state": idrac.power_state,
        "host_state": idrac.host_state,
        "idrac_rebooting": idrac.idrac_rebooting(),
        "health_faults": sorted(idrac.health_faults),
        "open_sessions": len(idrac.sessions),
        "counters": idrac.counters.as_dict(),
        "faults": idrac.faults.as_dict(),
        "jobs": {jid: job.state(idrac.clock.now())[0] for jid, job in idrac.jobs.items()},
        "virtual_media": {slot: s["Image"] for slot, s in idrac.virtual_media.items() if s["Inserted"]},
        "firmware": {c.component_id: c.version for c in idrac.components},
    }


class AdminApp:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def _targets(self, body: dict[str, Any]) -> list[SimIdrac] | Response:
        targets = body.get("targets", "all")
        if targets == "all":
            return list(self.fleet.idracs)
        if not isinstance(targets, list):
            return Response(400, {"error": 'targets must be "all" or a list of "IP:PORT"'})
        found = []
        for t in targets:
            idrac = self.fleet.get(str(t))
            if idrac is None:
                return Response(404, {"error": f"no simulated iDRAC at {t}"})
            found.append(idrac)
        return found

    async def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if request.method == "GET" and path == "/fleet":
            return Response(
                200,
                {
                    "time_scale": self.fleet.clock.scale,
                    "sim_seconds": self.fleet.clock.now(),
                    "servers": [describe(i) for i in self.fleet.idracs],
                },
                content_type="application/json",
            )
        if request.method == "GET" and path.startswith("/servers/"):
            idrac = self.fleet.get(path.removeprefix("/servers/"))
            if idrac is None:
                return Response(404, {"error": "no such simulated iDRAC"})
            return Response(200, describe(idrac), content_type="application/json")
        if request.method != "POST":
            return Response(404, {"error": "unknown admin endpoint"})
        try:
            body = request.json() or {}
        except ValueError:
            return Response(400, {"error": "body must be JSON"})
        targets = self._targets(body)
        if isinstance(targets, Response):
            return targets
        if path == "/faults":
            for idrac in targets:
                if body.get("clear"):
                    idrac.faults = Faults()
                try:
                    idrac.faults.update(body.get("set", {}))
                except (KeyError, ValueError, TypeError) as exc:
                    return Response(400, {"error": f"unknown or bad fault {exc}; known: {list(Faults().as_dict())}"})
            return Response(200, {"updated": len(targets)}, content_type="application/json")
        if path == "/bios":  # an operator changed BIOS settings at the console: drift for DSM to find
            values = body.get("set")
            if not isinstance(values, dict):
                return Response(400, {"error": 'give {"targets": ..., "set": {attribute: value}}'})
            for idrac in targets:
                problem = idrac.validate_bios(values)
                if problem:
                    return Response(400, {"error": problem})
                idrac.bios.update(values)
            return Response(200, {"changed": len(targets)}, content_type="application/json")
        if path == "/health":
            faults = set(body.get("faults", []))
            if not faults <= set(HEALTH_FAULTS):
                return Response(400, {"error": f"health faults are {HEALTH_FAULTS}"})
            for idrac in targets:
                idrac.set_health_faults(faults)
            return Response(200, {"updated": len(targets)}, content_type="application/json")
        if path == "/power":
            state = body.get("state")
            if state not in ("On", "Off"):
                return Response(400, {"error": "state must be On or Off"})
            for idrac in targets:
                idrac.power_state = state
                idrac.host_state = "up" if state == "On" else "down"
            return Response(200, {"updated": len(targets)}, content_type="application/json")
        if path == "/counters/reset":
            for idrac in targets:
                idrac.counters = Counters()
            return Response(200, {"updated": len(targets)}, content_type="application/json")
        return Response(404, {"error": "unknown admin endpoint"})
