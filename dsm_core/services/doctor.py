"""`dsm doctor`: is this installation healthy, and if not, what to do — one line per problem, each with its fix.

The checks read; none writes. They run in order and each stands alone, so a database that cannot be reached still
gets its file modes checked, and one that is not migrated still gets its key checked. No role is needed: an on-call
admin runs it before anything else works, and it shows nothing a viewer could not see (no secret, no row).
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.config import Config

Level = Literal["ok", "warning", "error"]
HEARTBEAT_WITHIN = timedelta(minutes=1)
CLOCK_SKEW_LIMIT = timedelta(seconds=5)
TAKEOVER_WITHIN = timedelta(minutes=2)
"""A running job's lease may have run out this long before a worker takes it over: workers claim expired leases at
their next poll (seconds), so longer means no worker that handles the job's type is there to."""


@dataclass(frozen=True)
class Finding:
    level: Level
    check: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.level:<7} {self.check}: {self.message}"
        return f"{text}; fix: {self.fix}" if self.fix else text


@dataclass
class Report:
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": sum(f.level == "error" for f in self.findings),
                "warnings": sum(f.level == "warning" for f in self.findings),
                "checks": [asdict(f) for f in self.findings]}


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password is not None
    except (sa.exc.ArgumentError, ValueError):
        return False


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_worker_key(config: Config, stored: str | None, reachable: bool = True, worker: bool = False,
                     ) -> list[Finding]:
    """Judged from the worker's side: the key file the configuration names (the worker's account holds it), and the
    public half the database holds. An operator on a jump host has no key and needs none: that is not a problem,
    and a key another account owns is that account's to check (its mode is still visible). ``worker``
    (`dsm doctor --worker`, run by the service account): the key must be here, this account's, and match."""
    import os

    key = config.worker_key_file
    registered = stored is not None
    try:
        info = key.stat()
    except FileNotFoundError:
        if worker:
            return [Finding("error", "worker key", f"no worker key at {key}: the worker cannot start here",
                            "copy the first worker host's key here (mode 0600, owned by this account), or on the "
                            "first host `dsm init --worker`")]
        if not reachable:
            return [Finding("warning", "worker key", f"no worker key at {key}, and the database could not be asked "
                            "whether one is registered", "fix the database line first, then run `dsm doctor` again")]
        if registered:
            return [Finding("ok", "worker key", f"registered in the database (id {_key_id(stored)}); not on this "
                            f"account at {key}: only the worker's account needs it")]
        return [Finding("error", "worker key", "no worker key is registered in the database: nothing can be sealed "
                        "for the worker", "as the worker's account, `dsm init --worker` (docs/deployment.md)")]
    except PermissionError:
        if worker:
            return [Finding("error", "worker key", f"{key} is not readable by this account",
                            "run `dsm doctor --worker` as the worker's service account, which owns the key")]
        return [Finding("ok", "worker key", f"{key} is not visible to this account (the worker's account holds it"
                        f"{'; the database has key id ' + _key_id(stored) if registered else ''}); run "
                        "`dsm doctor --worker` as that account to check the file")]
    mode = stat.S_IMODE(info.st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [Finding("error", "worker key", f"{key} is readable or writable by group or others (mode {mode:04o}); "
                        "the worker refuses to start", f"chmod 600 {key}")]
    if info.st_uid != os.geteuid():
        if worker:
            return [Finding("error", "worker key", f"{key} belongs to {_owner(info.st_uid)}, not to this account",
                            f"run `dsm doctor --worker` as {_owner(info.st_uid)}, the account the worker runs as")]
        return [Finding("ok", "worker key", f"{key} (mode {mode:04o}) belongs to {_owner(info.st_uid)}; run "
                        f"`dsm doctor --worker` as {_owner(info.st_uid)} to check it against the database")]
    from dsm_core.credentials.sealing import SealingError, encode_public_key, load_private_key

    try:
        public = encode_public_key(load_private_key(key).public_key())
    except SealingError as exc:
        return [Finding("error", "worker key", f"{key}: {exc}", "restore the key from where you keep its copy")]
    if reachable and not registered:
        return [Finding("error", "worker key", f"{key} exists but its public half is not in the database: nothing "
                        "is sealed for it", "as this account, `dsm init --worker` registers it")]
    if reachable and public != stored:
        return [Finding("error", "worker key", f"{key} does not match the key registered in the database (id "
                        f"{_key_id(stored)}): the passwords sealed there cannot be opened with it",
                        "copy the first worker host's key here (mode 0600)")]
    return [Finding("ok", "worker key", f"{key} (mode {mode:04o}, id {_key_id(public)})")]


def _key_id(public_b64: str | None) -> str:
    from dsm_core.credentials.sealing import SealingError, decode_public_key, key_id

    try:
        return key_id(decode_public_key(public_b64 or ""))
    except (SealingError, ValueError):
        return "unreadable"


def _uid(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


def _owner(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_files(config: Config) -> list[Finding]:
    out: list[Finding] = []
    if config.source is not None and config.source.exists():
        mode = _mode(config.source)
        if mode & stat.S_IWOTH:
            out.append(Finding("error", "config", f"{config.source} is writable by others (mode {mode:04o}): anyone "
                               "could point DSM at another database", f"chmod o-w {config.source}"))
        elif mode & stat.S_IROTH and (_has_password(config.database_url)
                                      or _has_password(config.worker_database_url)):
            out.append(Finding("error", "config", f"{config.source} is readable by others and a database URL in it "
                               "holds a password", f"keep the password in the account's ~/.pgpass (mode 0600), or "
                               f"chmod o-rwx {config.source}"))
        else:
            out.append(Finding("ok", "config", f"{config.source} (mode {mode:04o})"))
    database = config.sqlite_path
    if database is not None and database.exists():
        mode = _mode(database)
        owner, key_owner = database.stat().st_uid, _uid(config.worker_key_file)
        if mode & (stat.S_IROTH | stat.S_IWOTH):
            out.append(Finding("error", "database file", f"{database} is readable or writable by others (mode "
                               f"{mode:04o}): SQLite mode trusts only the DSM group", f"chmod o-rwx {database}"))
        elif key_owner is not None and owner != key_owner:
            out.append(Finding("warning", "database file", f"{database} belongs to {_owner(owner)}, the worker key "
                               f"to {_owner(key_owner)}: the file's owner acts as the DBA (backups, upgrades)",
                               f"chown {_owner(key_owner)} {database}"))
        else:
            out.append(Finding("ok", "database file", f"{database} (mode {mode:04o})"))
    return out


def _utc(value: Any) -> datetime:
    from dsm_core.timeutil import as_utc

    found = as_utc(value)
    assert found is not None, "a NOT NULL time column held NULL"
    return found


def _db_now(conn: sa.Connection) -> datetime:
    from dsm_core.timeutil import utcnow

    if conn.dialect.name == "postgresql":
        return _utc(conn.execute(sa.text("SELECT now()")).scalar_one())
    return utcnow()  # SQLite's clock is this host's


def check_database(engine: Engine, now: datetime, problem: Callable[[Exception], str]) -> list[Finding]:
    """Reachable, migrated, roles, then what the rows say: workers, stale jobs, devices."""
    from dsm_core.db import migrate, roles

    out: list[Finding] = []
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            provisioned = roles.is_provisioned(conn)
    except sa.exc.DBAPIError as exc:
        return [Finding("error", "database", problem(exc), "")]
    out.append(Finding("ok", "database", "reachable"))
    current, head = migrate.current_revision(engine), migrate.head_revision()
    if current != head:
        out.append(Finding("error", "schema", f"the database is at revision {current or 'none (empty)'}, not {head}",
                           "`dsm db upgrade` (an existing install) or `dsm init` (a new one)"))
        return out
    out.append(Finding("ok", "schema", f"at revision {head}"))
    if engine.dialect.name == "postgresql":
        out.append(Finding("ok", "roles", "provisioned: PostgreSQL enforces DSM's roles") if provisioned else
                   Finding("warning", "roles", "not provisioned: anyone who can connect can do anything",
                           "`sudo -u postgres dsm db provision-roles` (README, Deploy)"))
    out.extend(_rows(engine, now))
    return out


def _rows(engine: Engine, now: datetime) -> list[Finding]:
    from sqlmodel import col

    from dsm_core.models import ActivitySettings, CredentialSet, Job, Server, Vcenter, WorkerHeartbeat
    from dsm_core.models.settings import SINGLETON_ID

    out: list[Finding] = []
    with engine.connect() as conn:
        db_now = _db_now(conn)
        rows = conn.execute(
            sa.select(col(WorkerHeartbeat.hostname), col(WorkerHeartbeat.pid), col(WorkerHeartbeat.last_beat_at),
                      col(WorkerHeartbeat.activity_writer))
            .where(col(WorkerHeartbeat.status) != "stopped")).all()
        beats = [(str(h), int(p), _utc(t)) for h, p, t, _ in rows]
        writers = {(str(h), int(p)): w for h, p, _, w in rows if w}
        stale_hours = int(conn.execute(sa.select(col(ActivitySettings.stale_pending_hours))
                                       .where(col(ActivitySettings.id) == SINGLETON_ID)).scalar() or 24)
        cut = now - timedelta(hours=stale_hours)
        stale_count, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(col(Job.created_at)))
                                           .where(col(Job.status) == "pending", col(Job.created_at) < cut)).one()
        orphans = conn.execute(sa.select(col(Job.id), col(Job.job_type), col(Job.lease_expires_at))
                               .where(col(Job.status) == "running",
                                      col(Job.lease_expires_at) < db_now - TAKEOVER_WITHIN)
                               .order_by(col(Job.lease_expires_at)).limit(20)).all()
        reach = {str(k): int(v) for k, v in conn.execute(
            sa.select(col(Server.connection_status), sa.func.count()).group_by(col(Server.connection_status))).all()}
        vcenters = [(str(n), s) for n, s in conn.execute(
            sa.select(col(Vcenter.name), col(Vcenter.last_sync_status))).all()]
        first_use = sorted(str(n) for n in conn.execute(
            sa.select(col(CredentialSet.name)).where(col(CredentialSet.trust) == "first-use")).scalars())
    fresh = [(h, p, t) for h, p, t in beats if now - t <= HEARTBEAT_WITHIN]
    if not fresh:
        last = max((t for _, _, t in beats), default=None)
        seen = f"the last beat was {int((now - last).total_seconds())} s ago" if last else "no worker ever beat"
        out.append(Finding("error", "worker", f"no worker heartbeat in the last minute ({seen}); nothing runs jobs "
                           "(or a worker's clock is far behind)",
                           "start it (`systemctl start dsm-worker` or `dsm worker`); `journalctl -u dsm-worker`"))
    else:
        out.append(Finding("ok", "worker", f"{len(fresh)} beating: " + ", ".join(f"{h} pid {p}" for h, p, _ in fresh)))
    out.extend(_activity_writers(writers, {(h, p) for h, p, _ in fresh}))
    if first_use:
        out.append(Finding("warning", "credential trust", f"{len(first_use)} credential set(s) are first-use ("
                           + ", ".join(first_use[:10]) + (" …" if len(first_use) > 10 else "") + "): their passwords "
                           "go to any server inside their ranges whose certificate was pinned on first sight, a lab's "
                           "convenience", "`dsm credentials update NAME --trust verified` and pin servers as admin "
                           "(`dsm servers update REF --fingerprint SHA256`) or use --tls-verify ca"))
    for host, pid, beat in fresh:
        ahead = beat - db_now
        if ahead > CLOCK_SKEW_LIMIT:
            out.append(Finding("error", "clock", f"worker {host} pid {pid} is {ahead.total_seconds():.0f} s ahead of "
                               "the database's clock: windows and leases run early", "sync the clocks (chrony/NTP)"))
    skew = now - db_now
    if abs(skew) > CLOCK_SKEW_LIMIT:
        out.append(Finding("error", "clock", f"this host's clock is {skew.total_seconds():+.0f} s from the "
                           "database's", "sync the clocks (chrony/NTP)"))
    if stale_count:
        out.append(Finding("error", "jobs", f"{stale_count} pending job(s) older than activity.stale_pending_hours "
                           f"({stale_hours} h), the oldest since {_utc(oldest):%Y-%m-%d %H:%M} UTC",
                           "`dsm jobs list --status pending` lists them; a worker must be up and handle their "
                           "type (the worker line above; the console's header)"))
    if orphans:
        ids = ", ".join(f"{str(i)[:8]} ({t})" for i, t, _ in orphans[:5]) + (" …" if len(orphans) > 5 else "")
        since = int((db_now - _utc(orphans[0][2])).total_seconds())
        out.append(Finding("error", "jobs", f"{len(orphans)} running job(s) whose worker's lease ran out and no worker "
                           f"took them over (the oldest {since} s ago): {ids}",
                           "a worker that handles their type must be up and not paused (the worker line above); it "
                           "resumes them from their step records — `dsm jobs show ID` says where each stopped"))
    if not stale_count and not orphans:
        out.append(Finding("ok", "jobs", "no stale pending job, no running job without a worker"))
    if reach.get("failed"):
        out.append(Finding("warning", "iDRACs", f"{reach['failed']} of {sum(reach.values())} unreachable at their "
                           "last contact", "`dsm servers list --filter conn:failed`; `dsm servers diagnose REF`"))
    elif reach:
        out.append(Finding("ok", "iDRACs", f"{reach.get('connected', 0)} of {sum(reach.values())} connected"))
    failed = [name for name, status in vcenters if status == "failed"]
    if failed:
        out.append(Finding("warning", "vCenter", f"last sync failed for {', '.join(failed)}",
                           "`dsm vcenter list`; `dsm vcenter test NAME`"))
    elif vcenters:
        out.append(Finding("ok", "vCenter", f"{len(vcenters)} synced or not yet synced, none failed"))
    return out


def stored_key(engine: Engine) -> tuple[str | None, bool]:
    """The registered public key, and whether the database could be asked at all."""
    from dsm_core.services.bootstrap import stored_public_key

    try:
        return stored_public_key(engine), True
    except sa.exc.DBAPIError:
        return None, False


WRITER_FAILING_AFTER = 3
"""Failed flushes in a row (every half second) before the activity writer counts as failing."""


def _activity_writers(writers: dict[tuple[str, int], Any], fresh: set[tuple[str, int]]) -> list[Finding]:
    """Each beating worker's activity writer, as its heartbeat tells: failing, spooling, or quarantining rows."""
    out: list[Finding] = []
    for (host, pid), w in sorted(writers.items()):
        if (host, pid) not in fresh or not isinstance(w, dict):
            continue
        who = f"worker {host} pid {pid}"
        if int(w.get("failures") or 0) >= WRITER_FAILING_AFTER:
            out.append(Finding("error", "activity log", f"{who} cannot write the activity log ({w.get('failures')} "
                               f"tries in a row; {w.get('pending', 0)} call(s) waiting): {w.get('last_error', '')}",
                               "`journalctl -u dsm-worker`; the database must take the worker's writes"))
        if int(w.get("spool_files") or 0):
            out.append(Finding("warning", "activity log", f"{who} has {w['spool_files']} spool file(s) not yet "
                               "written to the database", "they are written when the database takes them; "
                               "`dsm doctor --worker` on that host lists DATA_DIR/spool"))
        if int(w.get("quarantined") or 0):
            out.append(Finding("warning", "activity log", f"{who} quarantined {w['quarantined']} call record(s) the "
                               f"database refused ({w.get('last_error', '')}); every other call was written",
                               "see DATA_DIR/spool/quarantine-*.jsonl on that host (each row with its reason)"))
    if not out and writers:
        out.append(Finding("ok", "activity log", "every beating worker writes its calls"))
    return out


def diagnose(config: Config, engine: Engine, now: datetime, problem: Callable[[Exception], str],
             worker: bool = False) -> Report:
    database = check_database(engine, now, problem)
    migrated = any(f.check == "schema" and f.level == "ok" for f in database)
    stored, reachable = stored_key(engine) if migrated else (None, False)
    return Report([*check_files(config), *check_worker_key(config, stored, reachable, worker), *database])
