"""Job handlers, one module per job family; HANDLERS maps a job type to the coroutine that runs it.

The worker claims only the types listed here, so a job of a type this version cannot run stays pending
(visible as such) instead of being failed by a worker that does not know it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dsm_worker.handlers.diagnostics import network_diagnostics
from dsm_worker.handlers.discovery import discovery_scan
from dsm_worker.handlers.inventory import fetch_event_logs, health_check, refresh_server_info, test_credentials
from dsm_worker.handlers.power import power_action
from dsm_worker.runtime import JobContext, Outcome

Handler = Callable[[JobContext], Awaitable[Outcome]]

HANDLERS: dict[str, Handler] = {
    "discovery_scan": discovery_scan,
    "test_credentials": test_credentials,
    "refresh_server_info": refresh_server_info,
    "health_check": health_check,
    "power_action": power_action,
    "fetch_event_logs": fetch_event_logs,
    "network_diagnostics": network_diagnostics,
}
