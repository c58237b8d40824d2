"""Run one walk of the documentation (tests/docblocks.py) verbatim, as root on a host of its own.

Started by tests/integration/test_doc_walks.py as `unshare --mount --fork python -m tests.integration.docwalk`, so
every mount below is private to this process and its children: /etc, /var and /opt are overlays whose changes
land in a scratch directory (the walk's `useradd`, /etc/dsm, /opt/dsm, /var/lib/dsm never touch the machine),
/home and /run are empty tmpfs. The blocks then run as the documentation says, paths and all: root runs them,
`sudo -u` becomes the OS users they name, PostgreSQL is the distribution's own cluster (started here, as the
package would have: sockets only, no TCP port) and `systemctl` is tests/integration/fake_systemctl.py.

Prints one JSON document: each block's exit status and output, the console's screen, and what the test checks
afterwards (the worker key's owner and mode, the backups written).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.docblocks import walk

REPO = Path(__file__).resolve().parents[2]


def sh(command: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False, **kw)


def private_host(scratch: Path) -> None:
    for top in ("etc", "var", "opt"):
        upper, work = scratch / f"{top}-upper", scratch / f"{top}-work"
        upper.mkdir()
        work.mkdir()
        upper.chmod(os.stat(f"/{top}").st_mode & 0o7777)  # the overlay's root takes its upper directory's mode
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir=/{top},upperdir={upper},workdir={work}", f"/{top}"], check=True)
    for top in ("home", "run"):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", f"/{top}"], check=True)


def start_postgresql() -> str:
    """The distribution's cluster (Debian: created by `apt-get install postgresql`), listening on its socket only."""
    found = sh("pg_lsclusters -h | head -1").stdout.split()
    if not found:
        version = sorted(Path(p).parent.name for p in glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]
        subprocess.run(["pg_createcluster", version, "main"], check=True, capture_output=True)
        found = [version, "main"]
    version, name = found[0], found[1]
    with open(f"/etc/postgresql/{version}/{name}/postgresql.conf", "a") as conf:
        conf.write("\nlisten_addresses = ''\nfsync = off\nsynchronous_commit = off\n")
    started = subprocess.run(["pg_ctlcluster", version, name, "start"], capture_output=True, text=True)
    if started.returncode != 0:
        logs = sh(f"tail -n 30 /var/log/postgresql/postgresql-{version}-{name}.log").stdout
        raise RuntimeError(f"pg_ctlcluster {version} {name} start: {started.stdout}{started.stderr}\n{logs}")
    return f"{version}/{name}"


def console(command: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    from tests.tui.terminal import Terminal

    old = os.getcwd()
    os.chdir(cwd)
    term = Terminal(["bash", "-c", command], env, cols=120, rows=30)
    os.chdir(old)
    result: dict[str, Any] = {"command": command}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and term.poll() is None:
            term.pump()
            if any(f"({role})" in term.text() for role in ("viewer", "operator", "admin")):
                break  # the header: the user and their role, then the database
        time.sleep(1.0)
        for _ in range(10):
            term.pump(0.1)
        result["screen"] = term.text()
        term.send("q")
        result["exit"] = term.wait_exit(30)
    finally:
        result.setdefault("screen", term.text())
        term.close()
    return result


def facts(name: str, cwd: Path) -> dict[str, Any]:
    """What the test checks beyond the blocks' own output, read while the worker still runs."""
    import grp

    out: dict[str, Any] = {}
    if name == "postgresql":
        def psql(sql: str) -> str:
            return sh(f"sudo -u postgres psql -XAtd dsm -c {json.dumps(sql)}", cwd=cwd).stdout.strip()

        out["key_registered"] = psql("SELECT sealing_public_key IS NOT NULL FROM activity_settings")
        out["worker_login"] = psql("SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity "
                                   "WHERE datname = 'dsm' AND usename LIKE 'dsm%'")
        done = sh("sudo -u alice /opt/dsm/bin/dsm backup create --to /tmp/alice.pgdump", cwd=cwd)
        out["admin_backup"] = {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
    else:
        st = Path("/var/lib/dsm/dsm.db").stat()
        out["database_mode"] = f"{st.st_mode & 0o7777:04o} {grp.getgrgid(st.st_gid).gr_name}"
    return out


def main() -> int:
    name, scratch, cwd = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    os.umask(0o022)  # root's usual umask, whatever the test process had (DSM's own main() narrows it in-process)
    private_host(scratch)
    report: dict[str, Any] = {"walk": name, "blocks": []}
    if name == "postgresql":
        report["postgresql"] = start_postgresql()
    shims = scratch / "bin"
    shims.mkdir()
    (shims / "systemctl").write_text(f"#!/bin/sh\nexec {sys.executable} {REPO / 'tests/integration/fake_systemctl.py'}"
                                     ' "$@"\n')
    (shims / "systemctl").chmod(0o755)
    env = {"PATH": f"{shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
           "LANG": "C.UTF-8", "TERM": "xterm-256color",
           **{k: v for k, v in os.environ.items() if k.startswith("IDRAC") or k.startswith("PIP_")}}
    try:
        for block in walk(name):
            if block.console:
                shown = console(block.text.strip(), env, cwd)
                report["blocks"].append({"where": block.where(), "console": True, **shown})
                continue
            started = time.monotonic()
            done = subprocess.run(["bash", "-xeuo", "pipefail", "-c", block.text], cwd=cwd, env=env,
                                  capture_output=True, text=True, check=False, timeout=600)
            report["blocks"].append({"where": block.where(), "rc": done.returncode, "stdout": done.stdout[-6000:],
                                     "stderr": done.stderr[-6000:], "seconds": round(time.monotonic() - started, 1)})
            if done.returncode != 0:
                break
        try:
            report["facts"] = facts(name, cwd)
        except (OSError, subprocess.SubprocessError) as exc:  # a block failed first: its output says why
            report["facts"] = {"error": repr(exc)}
        key = Path("/var/lib/dsm/worker.key")
        if key.exists():
            st = key.stat()
            import pwd

            report["worker_key"] = {"owner": pwd.getpwuid(st.st_uid).pw_name, "mode": f"{st.st_mode & 0o7777:04o}"}
        report["backups"] = sorted(str(p) for p in Path("/var").rglob("dsm-*.pgdump")) + sorted(
            str(p) for p in Path("/var/lib/dsm").rglob("dsm-*.sqlite"))
        log = Path("/run/fake-systemd/dsm-worker.log")
        report["worker_log"] = log.read_text()[-4000:] if log.exists() else ""
    finally:
        sh(f"{shims}/systemctl stop dsm-worker")
        if "postgresql" in report:
            version, cluster = report["postgresql"].split("/")
            sh(f"pg_ctlcluster {version} {cluster} stop -m immediate")
        shutil.rmtree(shims, ignore_errors=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
