"""Randomized rolling updates: random cluster sizes, minimums, priorities and concurrency, with injected faults —
a host that disconnects mid-run, an evacuation vCenter gives up on, a firmware job the iDRAC fails, workers killed
at random moments — and an operator who retries or cancels after a failure.

Each scenario runs the real handler, step engine and firmware steps in this process, against a fresh SQLite
database and a fresh `dsm_sim` fleet over HTTPS; the vCenter is ``FakeVcenter``, which witnesses every maintenance
change. A kill cancels the worker's job mid-step (its rows stay ``running``, as a dead worker leaves them) and
a new worker resumes it. What must hold in every scenario: no breach of the safety rule at any maintenance entry;
at the end, no host in maintenance unless the job ended failed or cancelled naming it; no iDRAC got the same
update twice unless a retry followed a failure of that very update.

``make test`` runs DSM_SCENARIOS scenarios (default 10: randomized runs belong to ``make bench``, which runs 200;
50 took three of the 25 minutes ``make test`` may use). DSM_SCENARIO_FIRST=N starts at seed
N (to replay one), DSM_SCENARIO_LOG=1 prints each scenario's draw and ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select

from dsm_core.credentials.sealing import load_private_key
from dsm_core.credentials.secret import Secret
from dsm_core.db import make_engine, session_scope
from dsm_core.models import Job, Server, ServerGroupMember
from dsm_core.services import credentials, jobs, rolling, servers, settings
from dsm_core.services.context import SYSTEM, ServiceContext
from dsm_core.services.vcenter import add_vcenter, record_sync
from dsm_sim.fleet import FleetThread
from dsm_sim.repository import Repo, serve_repo
from dsm_worker import store
from dsm_worker.handlers import vcenter as vcenter_handler
from dsm_worker.main import Worker, WorkerOptions
from tests.conftest import Templates, ctx_for, fresh_database
from tests.sim.conftest import fleet_spec
from tests.worker.fake_vcenter import FakeVcenter
from tests.worker.firmware_repo import BIOS_R750, PACKAGES

SCENARIOS = int(os.environ.get("DSM_SCENARIOS", "10"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    with serve_repo(tmp_path_factory.mktemp("repo"), "127.0.0.1", PACKAGES) as served:
        yield served


@dataclass
class Plan:
    hosts: int
    minimum: int
    max_concurrent: int
    priorities: list[int]
    fw_failure: int | None
    evac_failure: int | None
    disconnect: tuple[int, int] | None
    kills: list[float]
    operator: str  # what the operator does after a failure: retry | cancel


def draw(rng: random.Random) -> Plan:
    hosts = rng.randint(2, 5)
    max_concurrent = rng.choice([1, 1, 1, 2]) if hosts > 2 else 1
    minimum = rng.randint(1, hosts - max_concurrent)
    return Plan(
        hosts=hosts, minimum=minimum, max_concurrent=max_concurrent,
        priorities=rng.sample(range(1, 100), hosts),
        fw_failure=rng.randrange(hosts) if rng.random() < 0.3 else None,
        evac_failure=rng.randrange(hosts) if rng.random() < 0.25 else None,
        disconnect=(rng.randint(1, 3 * hosts), rng.randrange(hosts)) if rng.random() < 0.2 else None,
        kills=[rng.uniform(0.05, 1.5) for _ in range(rng.choice([0, 0, 1, 2]))],
        operator=rng.choice(["retry", "retry", "cancel"]),
    )


async def run_scenario(seed: int, templates: Templates, base: Path, repo: Repo, key_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Runs one scenario; returns the broken guarantees (none expected)."""
    rng = random.Random(seed)
    plan = draw(rng)
    tmp = base / f"s{seed}"
    tmp.mkdir()
    engine = make_engine(fresh_database(templates, "sqlite", tmp))
    admin = ServiceContext(engine, ctx_for(engine, "alice").actor)
    spec = fleet_spec(count=plan.hosts, models=("R750",), tag_scheme="vcsim", time_scale=2000,
                      shared_certificate=True)
    problems: list[str] = []
    with FleetThread(spec) as fleet:
        names = [f"esx-{seed}-{i}" for i in range(plan.hosts)]
        tags = [f"VCS{i:04d}" for i in range(plan.hosts)]
        vc = FakeVcenter(names, tags, minimum=plan.minimum, max_concurrent=plan.max_concurrent)
        monkeypatch.setattr(vcenter_handler, "CONNECT", lambda *a, **k: vc)
        credentials.add_credential_set(admin, "lab", "root", Secret("calvin"), ranges=["127.0.0.0/8"])
        for key, value in (("activity.scp_backup_before_change", "false"), ("network.read_timeout_seconds", "5"),
                           ("network.max_retry_attempts", "1"), ("network.retry_delay_seconds", "0"),
                           ("network.max_requests_per_minute", "100000")):
            settings.set_setting(admin, key, value)
        for endpoint, tag in zip(fleet.endpoints, tags, strict=True):
            view = servers.add_server(admin, endpoint)
            with session_scope(engine) as s:
                row = s.get(Server, uuid.UUID(str(view["id"])))
                assert row is not None
                row.service_tag, row.model = tag, "PowerEdge R750"
                s.add(row)
        vc_id = add_vcenter(admin, "vc", "https://127.0.0.1:9", "u", Secret("p"))["id"]
        record_sync(ServiceContext(engine, SYSTEM), uuid.UUID(str(vc_id)), vc.inventory())
        vc.inventory_reads = 0
        with session_scope(engine) as s:  # the operator's update order
            members = {m.server_id: m for m in s.exec(select(ServerGroupMember)).all()}
            for (_server_id, member), priority in zip(sorted(members.items()), plan.priorities, strict=True):
                member.priority = priority
                s.add(member)
        if plan.fw_failure is not None:
            fleet.set_faults([fleet.endpoints[plan.fw_failure]], job_failure=True)
        if plan.evac_failure is not None:
            vc.evacuation_fails.add(names[plan.evac_failure])
        if plan.disconnect is not None:
            vc.disconnect_at = (plan.disconnect[0], names[plan.disconnect[1]])
        started = rolling.start_rolling_update(admin, "prod", image_uri=repo.uri(BIOS_R750),
                                               max_concurrent=plan.max_concurrent, min_required_hosts=plan.minimum,
                                               maintenance_timeout_seconds=60, online_timeout_seconds=5)
        job_id = started["id"]
        key = load_private_key(key_path)
        kills = list(plan.kills)
        failures_seen = 0
        for _round in range(8):
            worker = Worker(engine, key, WorkerOptions(dell_job_poll_seconds=0.05, scheduled_settle_seconds=0.3, scheduler=False))
            claimed = await asyncio.to_thread(store.claim_jobs, engine, worker.id, 1, 60.0, ["rolling_cluster_update"])
            if not claimed:
                break
            task = asyncio.create_task(worker._execute(claimed[0], asyncio.Event()))
            if kills:
                done, _ = await asyncio.wait({task}, timeout=kills.pop(0))
                if not done:
                    task.cancel()  # the worker dies mid-step: its rows stay as it left them
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    await worker.pool.close_all(5)
                    continue
            await task
            await worker.pool.close_all(5)
            with Session(engine) as s:
                job = s.get(Job, uuid.UUID(str(job_id)))
                assert job is not None
                status, error = job.status, job.error or ""
            if status != "failed":
                break
            failures_seen += 1
            if os.environ.get("DSM_SCENARIO_LOG"):
                print(f"  seed {seed} round {_round}: failed: {error[:300]}")
            fleet.clear_faults("all")
            vc.heal()
            if plan.operator == "cancel":
                jobs.cancel_job(admin, job_id)
            else:
                jobs.retry_job(admin, job_id)
        with Session(engine) as s:
            job = s.get(Job, uuid.UUID(str(job_id)))
            assert job is not None
            status, error = job.status, job.error or ""
        problems += [f"seed {seed}: safety rule broken: {v}" for v in vc.violations]
        for name in vc.in_maintenance():
            if status not in ("failed", "cancelled") or name not in error:
                problems.append(f"seed {seed}: {name} left in maintenance with job {status}: {error!r}")
        if status == "completed":
            for i, server in enumerate(fleet.servers()):
                if server["bios_version"] != BIOS_R750.version:
                    problems.append(f"seed {seed}: completed but {names[i]} is at {server['bios_version']}")
        for i, server in enumerate(fleet.servers()):
            sent = server["counters"]["updates_received"]
            allowed = 1 + (failures_seen if plan.fw_failure == i else 0)
            if sent > allowed:
                problems.append(f"seed {seed}: {names[i]} received the update {sent} times (allowed {allowed})")
        if status not in ("completed", "failed", "cancelled"):
            problems.append(f"seed {seed}: the job ended {status}")
        if os.environ.get("DSM_SCENARIO_LOG"):
            print(f"seed {seed}: {plan} -> {status} {error[:150]!r} entered={vc.entered} "
                  f"in_maintenance={vc.in_maintenance()} failures={failures_seen}")
    engine.dispose()
    return problems


async def test_randomized_rolling_updates_never_break_the_safety_rule_nor_strand_a_host(
        templates: Templates, tmp_path: Path, repo: Repo, worker_key_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    problems: list[str] = []
    first = int(os.environ.get("DSM_SCENARIO_FIRST", "0"))
    for seed in range(first, first + SCENARIOS):
        problems += await run_scenario(seed, templates, tmp_path, repo, worker_key_path, monkeypatch)
    assert problems == [], "\n".join(problems)
