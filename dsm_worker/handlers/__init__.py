"""Job handlers, one module per job family, found through each type's declaration in dsm_core.jobtypes.

The worker claims only the types whose declaration names a handler, so a job of a type this version cannot
run stays pending (visible as such) instead of being failed by a worker that does not know it.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from dsm_core.jobtypes import JOB_TYPE_SPECS
from dsm_worker.runtime import JobContext, Outcome

Handler = Callable[[JobContext], Awaitable[Outcome]]


def _load() -> dict[str, Handler]:
    out: dict[str, Handler] = {}
    for job_type, spec in JOB_TYPE_SPECS.items():
        if spec.handler is None:
            continue
        module_name, _, attr = spec.handler.partition(":")
        out[job_type] = getattr(importlib.import_module(module_name), attr)
    return out


HANDLERS: dict[str, Handler] = _load()
