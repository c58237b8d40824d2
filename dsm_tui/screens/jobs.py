"""Jobs: the live queue, and one job's tasks, logs and workflow steps.

Each poll reads only jobs whose ``updated_at`` moved since the last one (every worker write bumps
it), so a new or changed job is on screen within one poll (0.5 s by default) of the worker's commit.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from dsm_core.filtering import compile_filter
from dsm_core.jobtypes import JOB_TYPE_SPECS
from dsm_core.services import jobs as job_service
from dsm_tui import data
from dsm_tui.actions import BY_ID, ActionContext
from dsm_tui.screens.base import DsmScreen
from dsm_tui.widgets.nested import inline
from dsm_tui.widgets.table import Column, VirtualTable

STATUS_STYLE = {"failed": "bold red", "running": "cyan", "pending": "yellow", "completed": "green",
                "cancelled": "dim"}


def _bar(progress: int, status: str, width: int = 10) -> str:
    if status == "completed":
        progress = 100
    filled = round(progress / 100 * width)
    return "█" * filled + "░" * (width - filled) + f" {progress:>3}%"


def job_columns(clock: Any) -> list[Column[data.JobRow]]:
    return [
        Column("id", "ID", 8, lambda r: r.short_id, priority=2),
        Column("status", "STATUS", 9, lambda r: r.status, lambda r: STATUS_STYLE.get(r.status, ""), priority=0),
        Column("progress", "PROGRESS", 15, lambda r: _bar(r.progress, r.status), priority=1,
               sort_key=lambda r: r.progress),
        Column("type", "TYPE", 19, lambda r: r.job_type, priority=0),
        Column("targets", "TARGETS", 16, lambda r: r.targets, priority=0),
        Column("user", "USER", 8, lambda r: r.user, priority=2),
        Column("age", "AGE", 4, lambda r: data.age(r.created_at, clock()), priority=1,
               sort_key=lambda r: r.created_at.timestamp()),
        Column("error", "ERROR", 24, lambda r: r.error,
               lambda r: "dim" if r.error.startswith("waiting:") else "red", priority=3, flex=True),
    ]


def task_columns() -> list[Column[data.TaskRow]]:
    return [
        Column("target", "TARGET", 18, lambda r: r.target, priority=0, flex=True),
        Column("status", "STATUS", 9, lambda r: r.status, lambda r: STATUS_STYLE.get(r.status, ""), priority=0),
        Column("progress", "PROGRESS", 15, lambda r: _bar(r.progress, r.status), priority=1),
        Column("attempts", "TRIES", 5, lambda r: str(r.attempts), priority=2),
        Column("error", "ERROR", 30, lambda r: r.error.splitlines()[0] if r.error else "", lambda r: "red",
               priority=1),
    ]


FILTER_FIELDS = {
    "id": lambda r: r.id.hex,
    "status": lambda r: r.status,
    "type": lambda r: r.job_type,
    "user": lambda r: r.user,
    "target": lambda r: r.targets,
    "error": lambda r: r.error,
}


class JobsScreen(DsmScreen):
    VIEW: ClassVar[str] = "jobs"
    AUTO_FOCUS = "#jobs"

    def __init__(self) -> None:
        super().__init__()
        self.table: VirtualTable[data.JobRow] = VirtualTable(
            job_columns(lambda: self.dsm.clock()), empty="no jobs yet", id="jobs"
        )
        self.tasks: VirtualTable[data.TaskRow] = VirtualTable(task_columns(), empty="no tasks", id="tasks")
        self._since: Any = None
        self._detail_for: uuid.UUID | None = None
        self._detail: data.JobDetail | None = None
        self._active_only = False
        self._text_filter: Any = None

    def body(self) -> ComposeResult:
        yield self.table
        with Vertical(id="job-detail") as pane:
            pane.display = False
            yield Static("", id="job-summary")
            yield self.tasks
            with VerticalScroll(id="task-log"):
                yield Static("", id="task-log-body")

    def focus_main(self) -> None:
        self.table.focus()

    # --- polling ------------------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        engine = self.dsm.engine
        full = self._since is None
        rows = data.load_jobs(engine, None if full else self._since, now=self.dsm.clock())
        out: dict[str, Any] = {"full": full, "rows": rows}
        if self._detail_for is not None:
            out["detail"] = data.job_detail(engine, self._detail_for, self.dsm.clock())
        return out

    def apply(self, result: dict[str, Any]) -> None:
        rows: list[data.JobRow] = result["rows"]
        if rows:
            newest = max(r.updated_at for r in rows)
            if self._since is None or newest > self._since:
                self._since = newest
        if result["full"]:
            self.table.set_rows(rows)
        elif rows:
            self.table.update_rows(sorted(rows, key=lambda r: r.created_at, reverse=True), prepend=True)
        detail = result.get("detail")
        if detail is not None and detail.job.id == self._detail_for:
            self._show_detail(detail)
        self.show_count(len(self.table.shown), len(self.table.rows))
        self.selection_changed()

    # --- filter ---------------------------------------------------------------------------------------

    def apply_filter(self, text: str) -> None:
        self._text_filter = compile_filter(text, FILTER_FIELDS)
        self._refilter()

    def _refilter(self) -> None:
        text = self._text_filter
        if self._active_only:
            self.table.set_filter(lambda r: r.status in data.ACTIVE and (text is None or text(r)))
        else:
            self.table.set_filter(text)
        self.show_count(len(self.table.shown), len(self.table.rows))

    def do_active(self) -> None:
        self._active_only = not self._active_only
        self._refilter()
        self.refresh_badges()
        self.notify("pending and running jobs only" if self._active_only else "all jobs", timeout=1.5)

    # --- detail -------------------------------------------------------------------------------------

    def action_context(self) -> ActionContext:
        row = self.table.current
        spec = JOB_TYPE_SPECS.get(row.job_type) if row else None
        return ActionContext(selected=1 if row else 0, row_state=row.status if row else "",
                             cleanup_on_cancel=bool(row and row.status == "failed" and spec
                                                    and spec.cancel_after_failure))

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        if event.table is self.tasks:
            self._show_task_log()
            return
        self.selection_changed()
        if self._detail_for is not None and event.row is not None and event.row.id != self._detail_for:
            self._detail_for = event.row.id
            self._load_detail(event.row.id)

    def do_detail(self) -> None:
        if self._detail_for is not None and self.tasks.has_focus is False and self.table.current is not None \
                and self.table.current.id == self._detail_for:
            self.tasks.focus()
            return
        row = self.table.current
        if row is None:
            return
        self._detail_for = row.id
        self.query_one("#job-detail").display = True
        self.add_class("-detail")
        self._load_detail(row.id)

    def open_job(self, job_id: uuid.UUID) -> None:
        if self.table.move_to(job_id):
            self.do_detail()

    def back_out(self) -> bool:
        if self._detail_for is not None:
            self._detail_for = None
            self._detail = None
            self.query_one("#job-detail").display = False
            self.remove_class("-detail")
            self.table.focus()
            return True
        return False

    @work(thread=True, exit_on_error=False, exclusive=True, group="detail")
    def _load_detail(self, job_id: uuid.UUID) -> None:
        detail = data.job_detail(self.dsm.engine, job_id, self.dsm.clock())
        if detail is not None:
            self.app.call_from_thread(self._show_detail, detail)

    def _show_detail(self, d: data.JobDetail) -> None:
        if d.job.id != self._detail_for:
            return
        first = self._detail is None or self._detail.job.id != d.job.id
        self._detail = d
        self.query_one("#job-summary", Static).update(render_summary(d, self.dsm.clock()))
        if first:
            self.tasks.set_rows(d.tasks)
        else:
            self.tasks.update_rows(d.tasks)
        self._show_task_log()

    def _show_task_log(self) -> None:
        task = self.tasks.current
        body = self.query_one("#task-log-body", Static)
        if task is None:
            body.update(Text("select a task to see its log", style="dim"))
            return
        text = Text()
        text.append(f"{task.target} · {task.status} · attempts {task.attempts}\n", style="bold")
        text.append(task.log or "(no log lines yet)\n")
        if task.error:
            text.append("\n" + task.error, style="red")
        body.update(text)

    # --- actions ------------------------------------------------------------------------------------

    def do_cancel(self) -> None:
        row = self.table.current
        if row is None:
            return
        ctx = self.ctx
        question = f"Cancel job {row.short_id} ({row.job_type}, {row.targets})?"
        if row.status == "failed":
            question = (f"Cancel failed job {row.short_id} ({row.job_type}, {row.targets})? The worker runs its "
                        "clean-up: the host it stopped at returns to service when it is healthy.")
        self.confirm(
            BY_ID["jobs.cancel"], question, [],
            lambda: self.call_service("cancel", lambda: job_service.cancel_job(ctx, row.id),
                                      lambda job: self.notify(f"job {row.short_id}: cancel requested")),
        )

    def do_create(self) -> None:
        from dsm_tui.modals.jobform import open_job_form

        def created(job: dict[str, Any] | None) -> None:
            if job:
                self.job_created(job)
                self.schedule_poll(0)

        open_job_form(self, [], created)

    def do_copy(self) -> None:
        row = self.table.current
        if row is not None:
            self.copy_text(str(row.id), "the job id")

    def badges(self) -> list[str]:
        return ["active only"] if self._active_only else []

    def do_retry(self) -> None:
        row = self.table.current
        if row is None:
            return
        ctx = self.ctx
        spec = JOB_TYPE_SPECS.get(row.job_type)
        if spec is not None and spec.workflow:
            question = f"Resume {row.job_type} on {row.targets} from its failed step (the same job)?"
        else:
            question = f"Run {row.job_type} on {row.targets} again as a new job?"
        self.confirm(
            BY_ID["jobs.retry"], question, [],
            lambda: self.call_service("retry", lambda: job_service.retry_job(ctx, row.id), self.job_created),
        )


def render_summary(d: data.JobDetail, now: Any) -> RenderableType:
    j = d.job
    line = Text()
    line.append(f"{j.job_type} ", style="bold")
    line.append(f"{j.status}", style=STATUS_STYLE.get(j.status, ""))
    line.append(f"  {j.id}  by {j.user}  created {data.age(j.created_at, now)} ago")
    if d.started_at:
        line.append(f"  started {data.age(d.started_at, now)} ago")
    if d.completed_at:
        line.append(f"  ended {data.age(d.completed_at, now)} ago")
    if d.cancel_requested and j.status == "running":
        line.append("  cancel requested", style="yellow")
    parts: list[RenderableType] = [line]
    if d.details:
        parts.append(Text("details: " + ", ".join(f"{k}={inline(v)}" for k, v in d.details.items()),
                          style="dim", overflow="ellipsis", no_wrap=True))
    done = sum(1 for t in d.tasks if t.status == "completed")
    failed = sum(1 for t in d.tasks if t.status == "failed")
    parts.append(Text(f"tasks: {len(d.tasks)} · completed {done} · failed {failed} · {_bar(j.progress, j.status)}"))
    if j.job_type == "rolling_cluster_update":
        parts.extend(host_timeline(d))
        return _tail(d, parts)
    servers: dict[str, list[data.StepRow]] = {}
    for s in d.steps:
        servers.setdefault(s.server, []).append(s)
    for server, rows in servers.items():
        steps = Text(f"steps{' ' + server if server and len(servers) > 1 else ''}: ")
        for s in rows:
            mark = {"completed": "✓", "failed": "✗", "running": "⟳", "skipped": "↷"}.get(s.status, "·")
            steps.append(f"{mark} {s.number}.{s.name}  ", style=STATUS_STYLE.get(s.status, ""))
        parts.append(steps)
        live = next((s for s in rows if s.status == "running"), None) or next(
            (s for s in rows if s.status == "failed"), None)
        if live is not None and (live.now or live.error):
            parts.append(Text(f"  {live.name}: {live.error or live.now}",
                              style="red" if live.status == "failed" else "", overflow="ellipsis", no_wrap=True))
    return _tail(d, parts)


MARKS = {"completed": "✓", "failed": "✗", "running": "⟳", "skipped": "↷", "pending": "·"}
ROLLING_STEPS = ("safety_check", "enter_maintenance_mode", "firmware_update", "reboot_server", "wait_for_online",
                 "verify_health", "exit_maintenance_mode", "verify_cluster_health")


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    value = max(0.0, value)
    return f"{value:.0f}s" if value < 90 else f"{value / 60:.0f}m"


STEP_HEADERS = ("SAFETY", "ENTER MM", "FIRMWARE", "REBOOT", "ONLINE", "HEALTH", "EXIT MM", "CLUSTER")
"""The eight host steps, short: safety_check, enter_maintenance_mode, firmware_update, reboot_server,
wait_for_online, verify_health, exit_maintenance_mode, verify_cluster_health."""


def host_timeline(d: data.JobDetail) -> list[RenderableType]:
    """A rolling update as a table, one row per host in the plan's order and one column per host step (its state and
    time), then what each running or failed step is doing (the Dell job's percentage inside firmware_update)."""
    hosts = [(str(h.get("host")), str(h.get("server_id"))) for h in (d.details.get("plan") or {}).get("hosts", [])
             if isinstance(h, dict)]
    by_server: dict[str, list[data.StepRow]] = {}
    for s in d.steps:
        by_server.setdefault(str(s.server_id), []).append(s)
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    table.add_column("HOST", no_wrap=True, overflow="ellipsis", max_width=24)
    for header in STEP_HEADERS:
        table.add_column(header, no_wrap=True)
    live_lines: list[RenderableType] = []
    for host, server_id in hosts:
        rows = by_server.get(server_id, [])
        outer = {r.name: r for r in rows if r.workflow == "rolling_cluster_update"}
        cells: list[Text] = [Text(host, style="bold")]
        for name in ROLLING_STEPS:
            row = outer.get(name)
            status = row.status if row else "pending"
            cell = Text(MARKS.get(status, "·"), style=STATUS_STYLE.get(status, "dim"))
            if row is not None and row.elapsed is not None:
                cell.append(f" {_seconds(row.elapsed)}", style="dim")
            cells.append(cell)
        table.add_row(*cells)
        live = next((r for r in outer.values() if r.status == "running"), None) or next(
            (r for r in outer.values() if r.status == "failed"), None)
        if live is not None:
            inner = next((r for r in rows if r.workflow != "rolling_cluster_update"
                          and r.status in ("running", "failed") and (r.now or r.error)), None)
            what = live.error or (inner.now if inner else "") or live.now
            if what:
                live_lines.append(Text(f"{host} {live.name}: {what}", style="red" if live.status == "failed" else "",
                                       overflow="ellipsis", no_wrap=True))
    return [table, *live_lines]


def _tail(d: data.JobDetail, parts: list[RenderableType]) -> RenderableType:
    if d.children:
        kids = Text("child jobs: ")
        for c in d.children:
            kids.append(f"{c.short_id} {c.job_type} ", style="bold")
            kids.append(f"{c.status}  ", style=STATUS_STYLE.get(c.status, ""))
        parts.append(kids)
    if d.full_error:
        parts.append(Text(d.full_error.splitlines()[0], style="red", overflow="ellipsis", no_wrap=True))
    return Group(*parts)
