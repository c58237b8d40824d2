"""Pulse: the fleet at a glance, every number a way in.

Each count is an option: Enter on "Critical 3" opens :servers filtered to health:critical, Enter
on "failed (24h) 2" opens :jobs filtered to status:failed. Lists are rebuilt only when a number
changed, so the highlighted line stays where the operator left it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widgets import Label, OptionList, Sparkline, Static
from textual.widgets.option_list import Option

from dsm_tui import data
from dsm_tui.screens.base import DsmScreen

JOB_STYLE = {"failed": "bold red", "running": "cyan", "pending": "yellow", "completed": "green", "cancelled": "dim"}
HEALTH_ORDER = ("Critical", "Warning", "OK", "Unknown")
STYLE = {"Critical": "bold red", "Warning": "yellow", "OK": "green", "Off": "dim", "failed": "bold red",
         "running": "cyan"}


def _option(label: str, count: int, target: str, style: str = "") -> Option:
    text = Text()
    text.append(f"{count:>6}  ", style=style or "bold")
    text.append(label, style=style)
    return Option(text, id=target)


def server_options(p: data.Pulse) -> list[Option]:
    opts = [_option("servers", p.servers, "servers|")]
    ordered = sorted(p.by_health.items(), key=lambda kv: HEALTH_ORDER.index(kv[0]) if kv[0] in HEALTH_ORDER else 9)
    for name, n in ordered:
        opts.append(_option(f"health {name}", n, f"servers|health:{name.lower()}", STYLE.get(name, "")))
    for name, n in sorted(p.by_power.items()):
        opts.append(_option(f"power {name}", n, f"servers|power:{name.lower()}", STYLE.get(name, "")))
    for name, n in sorted(p.by_connection.items()):
        opts.append(_option(f"connection {name}", n, f"servers|conn:{name}", STYLE.get(name, "")))
    return opts


def job_options(p: data.Pulse) -> list[Option]:
    return [
        _option("running", p.jobs_running, "jobs|status:running", "cyan" if p.jobs_running else ""),
        _option("pending", p.jobs_pending, "jobs|status:pending", "yellow" if p.jobs_pending else ""),
        _option("failed (24 h)", p.jobs_failed_24h, "jobs|status:failed", "bold red" if p.jobs_failed_24h else ""),
        _option("completed (24 h)", p.jobs_completed_24h, "jobs|status:completed"),
        *[_option(f"{j.job_type} {j.targets} {j.error[:40]}", 1, f"jobs|id:{j.id.hex}", "red")
          for j in p.recent_failures],
    ]


def recent_options(p: data.Pulse) -> list[Option]:
    out = []
    for j in p.recent:
        text = Text()
        text.append(f"{j.status:<10}", style=JOB_STYLE.get(j.status, ""))
        text.append(f"{data.age(j.created_at, p.workers.now):>4} ago  ")
        text.append(f"{j.job_type:<22}", style="bold")
        text.append(f"{j.targets}  {j.user}")
        if j.error:
            text.append(f"  {j.error}", style="red")
        out.append(Option(text, id=f"jobs|id:{j.id.hex}"))
    return out


def worker_text(w: data.WorkerSummary) -> Text:
    text = Text()
    if not w.workers:
        text.append(" NO WORKER HAS EVER BEATEN \n", style="bold reverse red")
        text.append("start one: dsm worker (or systemctl start dsm-worker)", style="dim")
        return text
    if w.state == "down":
        text.append(" WORKER DOWN \n", style="bold reverse red")
    for b in w.workers:
        style = "green" if b.alive else "red"
        state = b.status if b.alive else "gone"
        text.append(f"{b.hostname}:{b.pid}", style="bold")
        text.append(f"  {state}", style=style)
        text.append(f"  beat {data.age(b.last_beat_at, w.now)} ago  running {b.running_jobs}\n")
    return text


class PulseScreen(DsmScreen):
    VIEW: ClassVar[str] = "pulse"
    AUTO_FOCUS = "#pulse-servers"
    POLL_SECONDS: ClassVar[float] = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._shown: dict[str, Any] = {}

    def body(self) -> ComposeResult:
        with Grid(id="pulse"):
            with Vertical(classes="panel", id="panel-servers") as v:
                v.border_title = "Servers"
                yield OptionList(id="pulse-servers")
            with Vertical(classes="panel", id="panel-jobs") as v:
                v.border_title = "Jobs"
                yield OptionList(id="pulse-jobs")
            with Vertical(classes="panel", id="panel-workers") as v:
                v.border_title = "Workers"
                yield Static("", id="pulse-workers")
            with Vertical(classes="panel", id="panel-rate") as v:
                v.border_title = "Jobs completed per hour (24 h)"
                yield Sparkline([0] * 24, id="pulse-spark")
                yield Label("", id="pulse-rate")
                yield Label("", id="pulse-calls")
            with Vertical(classes="panel", id="panel-recent") as v:
                v.border_title = "Latest jobs (Enter opens one)"
                yield OptionList(id="pulse-recent")

    def focus_main(self) -> None:
        self.query_one("#pulse-servers", OptionList).focus()

    def load(self) -> data.Pulse:
        return data.pulse(self.dsm.engine, self.dsm.clock())

    def apply(self, p: data.Pulse) -> None:
        self._set_options("pulse-servers", server_options(p))
        self._set_options("pulse-jobs", job_options(p))
        self._set_options("pulse-recent", recent_options(p))
        self.query_one("#pulse-workers", Static).update(worker_text(p.workers))
        if self._shown.get("spark") != p.completed_per_hour:
            self._shown["spark"] = p.completed_per_hour
            self.query_one("#pulse-spark", Sparkline).data = list(p.completed_per_hour)
        peak = max(p.completed_per_hour)
        self.query_one("#pulse-rate", Label).update(
            f"this hour {p.completed_per_hour[-1]} · peak {peak}/h · {p.jobs_completed_24h} in 24 h")
        calls = p.calls_today
        self.query_one("#pulse-calls", Label).update(
            "API calls today: no statistics yet (`dsm activity stats`)" if calls is None else
            f"API calls today {calls[0]:,} · {calls[1]:,} failed · worst p95 {calls[2] or '-'} ms")

    def _set_options(self, widget_id: str, options: list[Option]) -> None:
        signature = tuple((o.id, str(o.prompt)) for o in options)
        if self._shown.get(widget_id) == signature:
            return
        self._shown[widget_id] = signature
        olist = self.query_one(f"#{widget_id}", OptionList)
        highlighted = olist.highlighted
        olist.clear_options()
        olist.add_options(options)
        if options:
            olist.highlighted = min(highlighted or 0, len(options) - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        target = event.option.id or ""
        view, _, filter_text = target.partition("|")
        if view:
            self.dsm.goto(view, filter_text=filter_text)
