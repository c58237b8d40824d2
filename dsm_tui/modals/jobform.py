"""Any job, from the console: choose the type, then its details form, built from the type's own details model
(``dsm_core.jobtypes``), with the targets and an optional start time. The service checks everything again;
its error names the detail and the fix, and the form stays open with what was typed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, get_origin

from dsm_core.jobtypes import JOB_TYPE_SPECS
from dsm_core.services import jobs as job_service
from dsm_core.services.context import ServiceContext
from dsm_tui.modals.form import FormField, FormModal

TARGET_HINTS = {
    "none": "", "servers": "servers (refs, comma-separated), or groups / clusters",
    "one_server": "exactly one server", "clusters": "clusters", "groups": "groups",
    "one_cluster_or_group": "one cluster or one group", "servers_or_address": "servers, or details.address",
}


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _value(text: str, annotation: Any) -> Any:
    """What an operator types, as the details model wants it: a list is comma-separated; numbers, true/false
    and JSON objects are read as JSON; anything else is the text itself."""
    if get_origin(annotation) is list or annotation is list:
        return _split(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def detail_fields(job_type: str) -> list[FormField]:
    model = JOB_TYPE_SPECS[job_type].details
    fields = []
    for name, info in model.model_fields.items():
        required = info.is_required()
        default = "" if required else info.default
        shown = ", ".join(map(str, default)) if isinstance(default, list) else ("" if default is None else str(default))
        fields.append(FormField(f"d_{name}", f"details.{name}", shown or ("required" if required else ""),
                                required=required))
    return fields


def job_form(job_type: str, ctx: ServiceContext, servers: list[str]) -> FormModal:
    """The second step: the details of ``job_type``, targets prefilled with the selection."""
    spec = JOB_TYPE_SPECS[job_type]
    model = spec.details
    fields = detail_fields(job_type)
    if spec.targets != "none":
        fields += [
            FormField("servers", "servers", "refs, comma-separated", ", ".join(servers), required=False),
            FormField("groups", "groups", "names, comma-separated", required=False),
            FormField("clusters", "clusters", "names, comma-separated", required=False),
        ]
    fields.append(FormField("at", "start at", "ISO time with an offset, e.g. 2026-12-01T02:00+00:00; empty: now",
                            required=False))

    def submit(v: dict[str, str]) -> dict[str, Any]:
        details = {name: _value(v[f"d_{name}"].strip(), info.annotation)
                   for name, info in model.model_fields.items() if v[f"d_{name}"].strip()}
        at = None
        if v["at"].strip():
            try:
                at = datetime.fromisoformat(v["at"].strip().replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"start at: {v['at']!r} is not an ISO time; e.g. 2026-12-01T02:00+00:00") from None
        return job_service.create_job(
            ctx, job_type, servers=_split(v.get("servers", "")), groups=_split(v.get("groups", "")),
            clusters=_split(v.get("clusters", "")), details=details, schedule_at=at)

    hint = TARGET_HINTS.get(spec.targets, "")
    return FormModal(f"New {job_type} job", fields, submit, note=f"targets: {hint}" if hint else "no targets")


def open_job_form(screen: Any, servers: list[str], created: Callable[[dict[str, Any] | None], None]) -> None:
    """Step one (the type, completed as typed), then step two (its form)."""
    ctx: ServiceContext = screen.ctx
    types = tuple(sorted(JOB_TYPE_SPECS))

    def chosen_type(v: dict[str, str]) -> str:
        name = v["job_type"].strip()
        if name not in JOB_TYPE_SPECS:
            raise ValueError(f"job type: {name!r} is not one; e.g. {', '.join(types[:5])} …")
        return name

    def then(job_type: str | None) -> None:
        if job_type:
            screen.app.push_screen(job_form(job_type, ctx, servers), created)

    screen.app.push_screen(FormModal("New job", [FormField("job_type", "job type", "start typing: health_check, "
                                                           "power_action, …", suggestions=types)], chosen_type),
                           then)
