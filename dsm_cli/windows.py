"""`dsm windows` (maintenance windows) and `dsm notifications`.

Times: ``--start``/``--end`` are ISO times; one without an offset is read on the wall clock of ``--timezone`` (an
IANA zone, default UTC), so ``--start 2026-12-06T02:30 --timezone Europe/Berlin`` is 02:30 in Berlin. A recurring
window (``--cron``) reads its pattern in the same zone; its first instance is the first occurrence at or after
``--start``, and ``create`` prints the next ones. A refusal by the four-eyes rule exits 3 and names the rule.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsm_cli import main as cli
from dsm_cli.output import print_json, print_table, say
from dsm_core.scheduling import zone
from dsm_core.services import notifications, window_report, windows
from dsm_core.timeutil import as_utc

Flag = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
WINDOW_COLUMNS = (("short_id", "id"), ("title", "title"), ("maintenance_type", "type"), ("when", "start"),
                  ("status", "status"), ("approval", "approval"), ("targets_text", "targets"))


def _targets_text(view: dict[str, Any]) -> str:
    t = view["targets"]
    return "; ".join(f"{k} {', '.join(v)}" for k, v in t.items() if v)


def _approval(view: dict[str, Any]) -> str:
    if not view["requires_approval"]:
        return "-"
    if view.get("approved_by_name") or view.get("approved_at"):
        return f"approved by {view.get('approved_by_name') or '?'}"
    if view["status"] == "rejected":
        return f"rejected by {view.get('rejected_by_name') or '?'}"
    return "AWAITING"


def _local(view: dict[str, Any]) -> str:
    start = as_utc(datetime.fromisoformat(view["planned_start"]))
    assert start is not None
    return f"{start.astimezone(zone(view['timezone'])):%Y-%m-%d %H:%M} {view['timezone']}"


def _print_window(view: dict[str, Any]) -> None:
    say(f"window {view['id']}: {view['title']} ({view['maintenance_type']}) — {view['status']}"
        + (f": {view['status_reason']}" if view.get("status_reason") else ""))
    say(f"  starts {_local(view)}, ends {view['planned_end']}" +
        (f"; recurring {view['recurrence_pattern']!r}" if view.get("recurrence_pattern") else ""))
    say(f"  targets: {_targets_text(view)}; approval: {_approval(view)}")
    for when in view.get("next_occurrences") or []:
        start = as_utc(datetime.fromisoformat(when))
        assert start is not None
        say(f"  next: {start.astimezone(zone(view['timezone'])):%a %Y-%m-%d %H:%M %Z} ({start:%H:%M} UTC)")
    for job in view.get("jobs") or []:
        say(f"  job {job['id'][:8]} {job['job_type']}: {job['status']}" + (f" ({job['error']})" if job["error"]
                                                                            else ""))
    for warning in view.get("warnings") or []:
        say(f"  WARNING: {warning}", sys.stderr)


def cmd_windows(rt: cli.Runtime) -> None:
    a = rt.args
    ctx = rt.ctx()
    if a.win_cmd == "list":
        rows = windows.list_windows(ctx, status=a.status)
        if a.json:
            print_json(rows)
            return
        for r in rows:
            r["short_id"], r["when"], r["approval"] = r["id"][:8], _local(r), _approval(r)
            r["targets_text"] = _targets_text(r)
        print_table(rows, WINDOW_COLUMNS, empty="(no window: `dsm windows create --title ...`)")
    elif a.win_cmd == "show":
        view = windows.show_window(ctx, a.id)
        print_json(view) if a.json else _print_window(view)
    elif a.win_cmd == "create":
        details = cli.parse_detail_pairs(a.detail)
        view = windows.create_window(
            ctx, a.title, maintenance_type=a.type, start=windows.parse_time("start", a.start, a.timezone),
            end=windows.parse_time("end", a.end, a.timezone), timezone=a.timezone, servers=a.server, groups=a.group,
            clusters=a.cluster, requires_approval=a.requires_approval, cron=a.cron,
            notify_before_hours=a.notify_before_hours, details=details, credential_sets=a.credential_set,
            description=a.description)
        print_json(view) if a.json else _print_window(view)
    elif a.win_cmd in ("approve", "reject", "cancel"):
        if a.win_cmd == "approve":
            view = windows.approve_window(ctx, a.id)
        elif a.win_cmd == "reject":
            view = windows.reject_window(ctx, a.id, reason=a.reason)
        else:
            view = windows.cancel_window(ctx, a.id)
        done = {"approve": "approved", "reject": "rejected", "cancel": "cancelled"}[a.win_cmd]
        print_json(view) if a.json else say(f"{done} window {view['id']} ({view['title']})")
    elif a.win_cmd == "suggest":
        found = windows.suggest(ctx, a.cluster, days=a.days, duration_hours=a.duration, timezone=a.timezone)
        if a.json:
            print_json(found)
            return
        rows = [{**w, "targets": ", ".join(w["affected_targets"]),
                 "local": f"{datetime.fromisoformat(w['start']).astimezone(zone(a.timezone)):%a %Y-%m-%d %H:%M}"}
                for w in found["optimal_windows"]]
        print_table(rows, (("local", f"start ({a.timezone})"), ("duration_hours", "hours"),
                           ("confidence", "confidence"), ("targets", "clusters"), ("reason", "reason")),
                    empty="(no window free of conflicts in the range)")
        say(f"from {found['history_checks']} safety check(s) of the last 90 days")
    elif a.win_cmd == "report":
        text = window_report.window_report(ctx, a.id, a.format)
        if a.output:
            Path(a.output).write_text(text + "\n", encoding="utf-8")
            say(f"wrote {a.output}", sys.stderr)
        else:
            sys.stdout.write(text + "\n")


def cmd_notifications(rt: cli.Runtime) -> None:
    a = rt.args
    ctx = rt.ctx()
    if a.note_cmd == "test":
        view = notifications.send_test(ctx)
        print_json(view) if a.json else say(f"queued a test notification to {', '.join(view['channels'])}; the "
                                            "worker running the scheduler delivers it (`dsm notifications list`)")
    elif a.note_cmd == "list":
        rows = notifications.list_notifications(ctx, limit=a.limit)
        if a.json:
            print_json(rows)
            return
        for r in rows:
            details = r.get("delivery_details") or {}
            r["channel"], r["subject"] = details.get("channel"), details.get("subject")
            r["at"] = datetime.fromisoformat(r["created_at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        print_table(rows, (("at", "at (UTC)"), ("notification_type", "event"), ("channel", "channel"),
                           ("status", "status"), ("subject", "subject"), ("error_message", "error")),
                    empty="(no notification sent yet)")


def add_parsers(sub: Any, json_flag: Flag) -> None:
    sp = sub.add_parser("windows", help="maintenance windows: plan, approve, run on time, report")
    wsub = sp.add_subparsers(dest="win_cmd", required=True)
    x = json_flag(wsub.add_parser("list", help="windows by start time"))
    x.add_argument("--status", metavar="STATUS")
    x = json_flag(wsub.add_parser("show", help="one window: targets, approval, jobs, next occurrences"))
    x.add_argument("id", metavar="ID")
    x = json_flag(wsub.add_parser("create", help="plan a window (operator)"))
    x.add_argument("--title", required=True)
    x.add_argument("--server", action="append", metavar="REF")
    x.add_argument("--cluster", action="append", metavar="NAME")
    x.add_argument("--group", action="append", metavar="NAME")
    x.add_argument("--type", required=True, metavar="TYPE", help="firmware_update, rolling_cluster_update, "
                   "bios_update, health_check, patch or hardware")
    x.add_argument("--start", required=True, metavar="ISO")
    x.add_argument("--end", required=True, metavar="ISO")
    x.add_argument("--timezone", default="UTC", metavar="TZ", help="IANA zone of --start/--end without an "
                   "offset and of --cron (default UTC)")
    x.add_argument("--requires-approval", action="store_true")
    x.add_argument("--cron", metavar="PATTERN", help="recur: minute hour day month weekday, in --timezone")
    x.add_argument("--notify-before-hours", type=int, default=24, metavar="N")
    x.add_argument("--detail", action="append", default=[], metavar="KEY=VALUE",
                   help="what the window's job takes (repository=NAME, image_uri=URI, max_concurrent=N, …)")
    x.add_argument("--credential-set", action="append", metavar="NAME")
    x.add_argument("--description", metavar="TEXT")
    for name, text in (("approve", "approve a window (not your own when maintenance.four_eyes is on)"),
                       ("cancel", "cancel a planned or running window (its running jobs stop between steps)")):
        x = json_flag(wsub.add_parser(name, help=text))
        x.add_argument("id", metavar="ID")
    x = json_flag(wsub.add_parser("reject", help="reject a window, saying why"))
    x.add_argument("id", metavar="ID")
    x.add_argument("--reason", required=True, metavar="TEXT")
    x = json_flag(wsub.add_parser("suggest", help="recommend windows from the safety history"))
    x.add_argument("--cluster", metavar="NAME")
    x.add_argument("--days", type=int, default=14, metavar="N")
    x.add_argument("--duration", type=float, default=4.0, metavar="HOURS")
    x.add_argument("--timezone", default="UTC", metavar="TZ")
    x = wsub.add_parser("report", help="the window's change record (md, html or json)")
    x.add_argument("id", metavar="ID")
    x.add_argument("--format", required=True, choices=window_report.FORMATS)
    x.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    sp.set_defaults(handler=cmd_windows)

    sp = sub.add_parser("notifications", help="notification deliveries; send a test")
    nsub = sp.add_subparsers(dest="note_cmd", required=True)
    json_flag(nsub.add_parser("test", help="admin: queue a test notification to every configured channel"))
    x = json_flag(nsub.add_parser("list", help="the latest delivery attempts"))
    x.add_argument("--limit", type=int, default=50)
    sp.set_defaults(handler=cmd_notifications)
