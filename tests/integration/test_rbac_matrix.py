"""Every mutating service function x admin / operator / viewer, on SQLite and PostgreSQL.

The viewer is refused everywhere; a refused call changes no row at all; an allowed call writes exactly one
audit row, by the acting user, naming the action. New mutations must get a recipe here, or the coverage
test fails.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import dsm_core.services
import dsm_core.services.safety
from dsm_core.credentials.secret import Secret
from dsm_core.db.engine import session_scope
from dsm_core.models import ActivitySettings, AuditLog, ScheduledSafetyCheck
from dsm_core.services import (
    configuration,
    credentials,
    firmware,
    groups,
    jobs,
    openmanage,
    rolling,
    servers,
    settings,
    users,
    vcenter,
    windows,
)
from dsm_core.services.context import MUTATIONS, SYSTEM, ServiceContext
from dsm_core.services.errors import Conflict, PermissionDenied
from tests.configuration_seed import seed_backup, seed_bios
from tests.conftest import ctx_for
from tests.pgroles import PeerLogins, session_user
from tests.vcenter_seed import inventory, seed_vcenter

SERVER = "127.0.10.1:8443"
Setup = Callable[[ServiceContext], tuple[tuple[Any, ...], dict[str, Any]]]


def _ome_device() -> Any:
    from dsm_core.openmanage.client import OmeServer

    return OmeServer("10074", "OMETAG1", "127.0.60.11", 443, "idrac-ometag1", "PowerEdge R750")


def _with_server(admin: ServiceContext) -> str:
    servers.add_server(admin, SERVER, hostname="r750-01")
    return SERVER


def _with_set(admin: ServiceContext) -> None:
    credentials.add_credential_set(admin, "lab", "root", Secret("calvin"), ranges=["10.0.0.0/8"])


def _public_key(admin: ServiceContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from dsm_core.credentials.sealing import decode_public_key, key_id
    from dsm_core.db import read_scope
    from dsm_core.models import SINGLETON_ID

    with read_scope(admin.engine) as s:
        row = s.get(ActivitySettings, SINGLETON_ID)
        assert row is not None and row.sealing_public_key
        key = row.sealing_public_key
    return (key, key_id(decode_public_key(key))), {}


def _job(admin: ServiceContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    _with_server(admin)
    job = jobs.create_job(admin, "health_check", servers=[SERVER])
    return (job["id"],), {}


def _finished_job(admin: ServiceContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    (job_id,), _ = _job(admin)
    jobs.cancel_job(admin, job_id)  # pending → cancelled: an ended job, which is what retry takes
    return (job_id,), {}


def _member(admin: ServiceContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    _with_server(admin)
    groups.add_group(admin, "web")
    groups.add_member(admin, "web", SERVER)
    return ("web", SERVER), {}


def _server_id(admin: ServiceContext) -> str:
    return str(servers.add_server(admin, SERVER, hostname="r750-01")["id"])


def _drifting_group(admin: ServiceContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A group whose baseline one member no longer matches (its BIOS read after the baseline was set)."""
    sid = _server_id(admin)
    groups.add_group(admin, "web")
    groups.add_member(admin, "web", SERVER)
    seed_bios(admin.engine, sid)
    configuration.set_bios_baseline(admin, SERVER, group="web")
    seed_bios(admin.engine, sid, NumLock="Off")
    return ("web",), {}


def _cluster_id(admin: ServiceContext) -> str:
    from dsm_core.db import read_scope
    from dsm_core.models import VcenterCluster

    with read_scope(admin.engine) as s:
        return str(s.exec(sa.select(VcenterCluster.id)).scalars().first())


def _record(admin: ServiceContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    added = vcenter.add_vcenter(admin, "vc1", "https://127.0.0.1:8989", "administrator@vsphere.local", Secret("pw"))
    return (added["id"], inventory()), {}


T0 = datetime(2030, 1, 6, 2, 0, tzinfo=UTC)


def _planned(admin: ServiceContext, *, approval: bool = True) -> str:
    """A planned window on a server, created by another operator (carol), so four-eyes lets everyone else approve."""
    if "carol" not in {u["username"] for u in users.list_users(admin)}:
        users.add_user(admin, "carol", "operator")
    view = windows.create_window(ctx_for(admin.engine, "carol"), "fw", maintenance_type="firmware_update", start=T0,
                                 end=T0 + timedelta(hours=2), servers=[_with_server(admin)],
                                 details={"image_uri": "http://127.0.10.250/BIOS.EXE"}, requires_approval=approval,
                                 now=T0 - timedelta(days=1))
    return str(view["id"])


def _running(admin: ServiceContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    wid = _planned(admin, approval=False)
    windows.start_window(ServiceContext(admin.engine, SYSTEM), uuid.UUID(wid), now=T0)
    return (uuid.UUID(wid),), {"now": T0 + timedelta(hours=3)}


def _scheduled(admin: ServiceContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
    seed_vcenter(admin)
    with session_scope(admin.engine) as s:
        row = ScheduledSafetyCheck(enabled=True)
        s.add(row)
        s.flush()
        config_id = row.id
    return (config_id,), {"now": T0}


RECIPES: dict[str, Setup] = {
    "users.add": lambda a: (("newbie", "viewer"), {}),
    "users.set_role": lambda a: (("victor", "operator"), {}),
    "users.remove": lambda a: (("victor",), {}),
    "users.ensure_admin": lambda a: (("oscar",), {}),
    "system.register_worker_key": _public_key,
    "db.provision_roles": lambda a: ((), {}),
    "openmanage.configure": lambda a: (("127.0.60.1",), {"username": "admin", "password": Secret("pw")}),
    "openmanage.record_sync": lambda a: (([_ome_device()],), {}),
    "db.backup": lambda a: (("/var/backups/dsm/dsm.sqlite", "0010"), {}),
    "db.restore": lambda a: (("/var/backups/dsm/dsm.sqlite", "0009", "0010"), {}),
    "db.upgrade": lambda a: (("0001", "0001"), {}),
    "db.downgrade": lambda a: (("0001", "base", "requested"), {}),
    "settings.set": lambda a: (("activity.log_level", "errors_only"), {}),
    "credentials.add": lambda a: (("lab2", "root", Secret("calvin")), {"ranges": ["10.1.0.0/16"]}),
    "credentials.set_password": lambda a: (_with_set(a), (("lab", Secret("new-one")), {}))[1],
    "credentials.remove": lambda a: (_with_set(a), (("lab",), {}))[1],
    "credentials.update": lambda a: (_with_set(a), (("lab",), {"priority": 5, "username": "admin"}))[1],
    "credentials.add_range": lambda a: (_with_set(a), (("lab", "10.2.0.0/16"), {}))[1],
    "credentials.remove_range": lambda a: (_with_set(a), (("lab", "10.0.0.0/8"), {}))[1],
    "servers.add": lambda a: ((SERVER,), {"hostname": "r750-01"}),
    "servers.update": lambda a: ((_with_server(a),), {"notes": "rack 4"}),
    "servers.remove": lambda a: ((_with_server(a),), {}),
    "servers.import": lambda a: (("ip_address,hostname\n127.0.10.2,r650-a\n127.0.10.3:8443,r650-b\n",), {}),
    "groups.add": lambda a: (("web",), {"min_healthy_servers": 2}),
    "groups.update": lambda a: (groups.add_group(a, "web"), (("web",), {"color": "#ff0000"}))[1],
    "groups.remove": lambda a: (groups.add_group(a, "web"), (("web",), {}))[1],
    "groups.add_member": lambda a: (groups.add_group(a, "web"), (("web", _with_server(a)), {"priority": 5}))[1],
    "groups.remove_member": _member,
    "jobs.create": lambda a: (("health_check",), {"servers": [_with_server(a)]}),
    "jobs.cancel": _job,
    "jobs.retry": _finished_job,
    "firmware.repo.add": lambda a: (("drm", "http://127.0.10.250/dell-repo"), {"catalog_file": "Catalog.xml.gz"}),
    "firmware.repo.remove": lambda a: (firmware.add_repository(a, "drm", "http://127.0.10.250/r"), (("drm",), {}))[1],
    "bios.baseline": lambda a: (seed_bios(a.engine, _server_id(a)), ((SERVER,), {}))[1],
    "bios.apply_baseline": _drifting_group,
    "scp.edit": lambda a: ((seed_backup(a.engine, _server_id(a)), ["NumLock=Off"]), {}),
    "vcenter.add": lambda a: (("vc1", "https://127.0.0.1:8989", "administrator@vsphere.local", Secret("pw")),
                              {"fingerprint": "ab" * 32}),
    "vcenter.remove": lambda a: (seed_vcenter(a), (("vc1",), {}))[1],
    "vcenter.link": lambda a: (seed_vcenter(a), servers.add_server(a, "127.0.10.9:8443"),
                               (("esx-0-0", "127.0.10.9:8443"), {}))[2],
    "vcenter.record_sync": _record,
    "vcenter.maintenance": lambda a: (seed_vcenter(a), (("host-000", _cluster_id(a), True), {}))[1],
    "rolling.start": lambda a: (seed_vcenter(a), (("prod-0",), {"image_uri": "http://127.0.10.250/BIOS.EXE",
                                                                "min_required_hosts": 1}))[1],
    "windows.create": lambda a: (("fw",), {"maintenance_type": "health_check", "start": T0,
                                           "end": T0 + timedelta(hours=1), "servers": [_with_server(a)],
                                           "now": T0 - timedelta(days=1)}),
    "windows.approve": lambda a: ((_planned(a),), {}),
    "windows.reject": lambda a: ((_planned(a),), {"reason": "change freeze"}),
    "windows.cancel": lambda a: ((_planned(a),), {}),
    "windows.start": lambda a: ((uuid.UUID(_planned(a, approval=False)),), {"now": T0}),
    "windows.advance": _running,
    "windows.notify": lambda a: ((uuid.UUID(_planned(a)),), {}),
    "windows.skip": lambda a: ((uuid.UUID(_planned(a)),), {"now": T0, "reason": "a group was removed"}),
    "notifications.test": lambda a: (settings.set_setting(a, "notification.syslog_host", "127.0.0.1"), ((), {}))[1],
    "safety.scheduled_run": _scheduled,
    "safety.schedule": lambda a: ((), {"enabled": True, "cron": "*/10 * * * *"}),
}


def test_every_mutation_has_a_recipe() -> None:
    assert rolling.start_rolling_update is MUTATIONS["rolling.start"].function
    assert openmanage.record_sync is MUTATIONS["openmanage.record_sync"].function
    assert set(RECIPES) == set(MUTATIONS)


def test_every_service_entry_point_is_declared() -> None:
    """A function taking the ServiceContext that is neither @mutation nor @query would skip role checks."""
    undeclared = []
    for info in pkgutil.iter_modules(dsm_core.services.__path__):
        module = importlib.import_module(f"dsm_core.services.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            params = list(inspect.signature(fn).parameters.values())
            if params and params[0].annotation in ("ServiceContext", ServiceContext) and not hasattr(fn, "dsm_kind"):
                undeclared.append(f"{module.__name__}.{name}")
            if params and params[0].annotation in ("Tx", "Session") and not hasattr(fn, "dsm_kind"):
                continue  # helpers called inside a declared use case
    assert undeclared == []


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in SQLModel.metadata.tables.items()}


def _audit_rows(engine: Engine) -> list[AuditLog]:
    from sqlmodel import Session, select

    with Session(engine) as s:
        return list(s.exec(select(AuditLog).order_by(AuditLog.timestamp)).all())


ROLE_OF = {"alice": "admin", "oscar": "operator", "victor": "viewer"}
# Only a login the database trusts with the schema (a superuser, dsm_owner's DBA) may provision it; a DSM
# admin's own login is refused by PostgreSQL, which is the point.
SCHEMA_OWNER_ONLY = {"db.provision_roles"}


def _acting(engine: Engine, role_user: str, request: pytest.FixtureRequest) -> ServiceContext:
    """SQLite: the user's context on the shared file. PostgreSQL: the role's own OS user, connected over the socket
    by peer authentication as its own login (made a DSM user of that role here, which creates its login)."""
    if engine.dialect.name != "postgresql":
        return ctx_for(engine, role_user)
    peer: PeerLogins = request.getfixturevalue("peer_logins")
    role = ROLE_OF[role_user]
    users.add_user(ctx_for(engine, "alice"), peer.name(role), role)
    own = peer.engine(str(engine.url.database), role)
    assert session_user(own) == peer.name(role)
    return ctx_for(own, peer.name(role))


@pytest.mark.parametrize("role_user", ["alice", "oscar", "victor"], ids=["admin", "operator", "viewer"])
@pytest.mark.parametrize("action", sorted(RECIPES))
def test_role_matrix(engine: Engine, action: str, role_user: str, request: pytest.FixtureRequest) -> None:
    admin = ctx_for(engine, "alice")
    args, kwargs = RECIPES[action](admin)
    actor = _acting(engine, role_user, request)
    info = MUTATIONS[action]
    before_counts = _row_counts(engine)
    before_audit = len(_audit_rows(engine))
    allowed = actor.actor.may(info.min_role)
    if role_user == "victor":
        assert not allowed, f"{action} must be refused to viewers"
    if not allowed:
        with pytest.raises(PermissionDenied) as refused:
            info.function(actor, *args, **kwargs)
        assert info.min_role in str(refused.value)
        assert _row_counts(engine) == before_counts, "a refused call changed rows"
        return
    if action in SCHEMA_OWNER_ONLY:  # PostgreSQL: not by a DSM admin's own login; SQLite: there are no roles
        expected = (PermissionDenied, "superuser") if engine.dialect.name == "postgresql" else (Conflict, "PostgreSQL")
        with pytest.raises(expected[0], match=expected[1]):
            info.function(actor, *args, **kwargs)
        assert _row_counts(engine) == before_counts, "a refused call changed rows"
        return
    info.function(actor, *args, **kwargs)
    audit = _audit_rows(engine)
    assert len(audit) == before_audit + 1, "an allowed mutation must write exactly one audit row"
    newest = audit[-1]
    assert newest.action == action
    assert newest.username == actor.actor.username
    assert newest.user_id == actor.actor.user_id
    if engine.dialect.name == "postgresql":  # the trigger recorded the login, which the application cannot choose
        assert newest.db_user == actor.actor.username


def test_operator_is_refused_admin_only_actions(engine: Engine) -> None:
    """The matrix above depends on min_role; pin the few that must stay admin-only."""
    for action in ("db.upgrade", "db.downgrade", "users.add", "users.set_role", "users.remove", "settings.set", "credentials.add",
                   "credentials.remove", "credentials.set_password", "credentials.update",
                   # the specification: operators create and update; removing servers and groups is admin
                   "servers.remove", "groups.remove", "firmware.repo.remove"):
        assert MUTATIONS[action].min_role == "admin", action
