"""A rolling update runs only a plan DSM made (issue 26, deliver 9): a plan written into ``--details-json`` that pairs
a host with another machine's server, or says safe of an unsafe cluster, is never what the worker runs."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session

from dsm_core.models import Job
from tests.conftest import ctx_for
from tests.integration import test_firmware_cli
from tests.integration.test_firmware_cli import ok
from tests.vcenter_seed import inventory, seed_vcenter

dsm = test_firmware_cli.dsm  # the in-process `dsm` fixture, shared
IMAGE = "http://127.0.10.250/BIOS_X.EXE"


def test_a_plan_written_by_the_caller_is_refused_or_replaced_by_dsms_own(request: pytest.FixtureRequest) -> None:
    run, engine = request.getfixturevalue("dsm")
    seed_vcenter(ctx_for(engine, "alice"), inventory(hosts=3))
    shown = json.loads(ok(run, "rolling-update", "prod-0", "--image-uri", IMAGE, "--min-hosts", "1", "--plan",
                          "--json"))
    assert shown["safe"] and len(shown["hosts"]) == 3
    base = ["jobs", "create", "rolling_cluster_update", "--cluster", "prod-0", "--details-json"]
    details = {"image_uri": IMAGE, "min_required_hosts": 1}

    # 1. the review's forgery: host 0's moref paired with host 1's server, a digest made up
    forged = json.loads(json.dumps(shown))
    forged["hosts"][0]["server_id"], forged["hosts"][1]["server_id"] = (forged["hosts"][1]["server_id"],
                                                                        forged["hosts"][0]["server_id"])
    forged["digest"] = "0123456789abcdef"
    code, out, err = run(*base, json.dumps({**details, "plan": forged}))
    assert code == 2 and "details.plan: is not the plan DSM makes for prod-0 now" in err, err
    assert f"DSM's {shown['digest']}" in err and "dsm rolling-update prod-0 --plan" in err

    # 2. the same forgery under DSM's real digest: accepted, but the job carries DSM's plan, not the caller's
    forged["digest"] = shown["digest"]
    created = json.loads(ok(run, *base, json.dumps({**details, "plan": forged}), "--json"))
    with Session(engine) as s:
        job = s.get(Job, __import__("uuid").UUID(created["id"]))
        assert job is not None
        stored = job.details["plan"]
    assert [(h["moref"], h["server_id"]) for h in stored["hosts"]] == [(h["moref"], h["server_id"])
                                                                       for h in shown["hosts"]]
    ok(run, "jobs", "cancel", created["id"])

    # 3. "safe" written over an unsafe cluster (a minimum of 3 of 3 with a host going down)
    unsafe = {**shown, "safe": True, "min_required_hosts": 3}
    code, _, err = run(*base, json.dumps({"image_uri": IMAGE, "min_required_hosts": 3, "plan": unsafe}))
    assert code == 2 and "details.plan" in err, err
    code, out, _ = run("rolling-update", "prod-0", "--image-uri", IMAGE, "--min-hosts", "3", "--plan", "--json")
    real = json.loads(out)
    assert code == 4 and not real["safe"]
    code, _, err = run(*base, json.dumps({"image_uri": IMAGE, "min_required_hosts": 3, "plan": real}))
    assert code == 4 and "dsm: unsafe: the plan of prod-0 is not safe" in err, err
    with Session(engine) as s:
        assert len(list(s.exec(__import__("sqlmodel").select(Job)))) == 1  # only the cancelled one
