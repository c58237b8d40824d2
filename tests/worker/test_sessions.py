"""Every iDRAC session the worker opens is deleted, even one whose login was cancelled in flight.

A worker draining on SIGTERM cancels job tasks wherever they are; a task cancelled while its session POST
is on the wire has already opened a session on the iDRAC. These run the real client over HTTPS against the
simulator, whose latency holds the POST open long enough to cancel it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from dsm_core.credentials.secret import Secret
from dsm_core.redfish.client import ClientSettings, IdracClient, Throttle
from dsm_core.redfish.tls import TlsPolicy
from dsm_sim.fleet import FleetThread
from tests.sim.conftest import fleet_spec


def _client(endpoint: str) -> IdracClient:
    return IdracClient(endpoint, "root", Secret("calvin"), TlsPolicy(mode="off"), Throttle(), ClientSettings())


def _settle(fleet: FleetThread, seconds: float = 2.0) -> int:
    """Open sessions once the simulator has finished every request it had begun."""
    time.sleep(seconds)
    return fleet.open_sessions()


def test_a_login_cancelled_on_the_wire_is_logged_out_when_the_client_closes() -> None:
    with FleetThread(fleet_spec(count=1, faults={"all": {"latency_ms": 600}})) as fleet:
        client = _client(fleet.endpoints[0])

        async def run() -> bool:
            login = asyncio.create_task(client.login())
            await asyncio.sleep(0.3)  # the POST is sent; its answer is 300 ms away
            login.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await login
            return await client.close(5)

        assert asyncio.run(run()) is True
        assert _settle(fleet) == 0


def test_the_next_request_after_a_cancelled_login_reuses_its_session() -> None:
    with FleetThread(fleet_spec(count=1, faults={"all": {"latency_ms": 400}})) as fleet:
        client = _client(fleet.endpoints[0])

        async def run() -> dict[str, object]:
            login = asyncio.create_task(client.login())
            await asyncio.sleep(0.2)
            login.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await login
            root = await client.get("/redfish/v1/Systems/System.Embedded.1")
            await client.close(5)
            return root

        assert asyncio.run(run())["Id"] == "System.Embedded.1"
        assert fleet.servers()[0]["counters"]["logins"] == 1  # one session, not two
        assert _settle(fleet) == 0
