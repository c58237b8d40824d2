"""`--wait` as scripts and operators use it, with a real worker and the simulated fleet: one JSON document
whose targets list every address's outcome; per-target outcomes in text (a Critical server says so); and the
progress line updated in place on a terminal, plain lines in a pipe."""

from __future__ import annotations

import json
from pathlib import Path

from dsm_sim.fleet import FleetThread
from tests.conftest import Templates
from tests.integration.cli import run_on_pty
from tests.worker.conftest import block_of, make_install


def test_wait_json_text_outcomes_and_progress(templates: Templates, tmp_path: Path, fleet: FleetThread) -> None:
    install = make_install(templates, "sqlite", tmp_path, [block_of(fleet)])
    home = install.home
    worker = install.start_worker()
    try:
        net = block_of(fleet).replace(".0/24", ".0/29")  # 6 addresses, 4 of them iDRACs
        proc = home.run("discover", net, "--port", "8443", "--wait", "--json", "--timeout", "120")
        assert proc.returncode == 0, proc.stderr
        document = json.loads(proc.stdout)  # one document, nothing else on stdout
        assert document["job_type"] == "discovery_scan" and document["status"] == "completed"
        targets = {t["target"]: t for t in document["targets"]}
        prefix = net.rsplit(".", 1)[0]
        assert set(targets) == {f"{prefix}.{i}:8443" for i in range(1, 7)}
        assert all(t["status"] == "completed" and t["outcome"] for t in targets.values())
        assert sum("logged in with" in t["outcome"] for t in targets.values()) == 4
        assert sum("no Redfish service" in t["outcome"] for t in targets.values()) == 2

        faulty = fleet.endpoints[2]  # the fleet fixture's server with PSU and fan faults
        text = home.run("servers", "health", faulty, fleet.endpoints[0], "--wait", "--timeout", "120")
        assert text.returncode == 0, text.stderr
        lines = text.stdout.splitlines()
        assert any(faulty in line and "health Critical" in line for line in lines), text.stdout
        assert any(fleet.endpoints[0] in line and "health OK" in line for line in lines), text.stdout
        assert "\r" not in text.stdout  # a pipe gets plain lines

        # On a terminal the progress line is rewritten in place (carriage return and erase-line).
        code, seen = run_on_pty(["servers", "refresh", *fleet.endpoints, "--wait", "--timeout", "120"], home.env())
        assert code == 0, seen.decode(errors="replace")
        assert b"\r\x1b[K" in seen and b"targets" in seen
    finally:
        worker.terminate()
        worker.wait(60)
        install.engine.dispose()
