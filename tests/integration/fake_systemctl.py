"""`systemctl` for the documentation walks (tests/integration/docwalk.py), where no systemd runs.

It does what the walks ask of systemd, from the unit files the documentation installed under /etc/systemd/system
(drop-ins in NAME.d/*.conf included, an empty assignment resetting a list as systemd does): `daemon-reload`,
`enable [--now] UNIT…`, `start UNIT`, `stop UNIT`, `is-active UNIT`. A service is run as its User=/Group= with
its Environment=/EnvironmentFile=, UMask= and StateDirectory= (created and owned as systemd would), Type=oneshot
to its end (the exit status is the command's), Type=simple detached with its stderr in /run/fake-systemd/NAME.log.
A timer is only recorded as enabled. Sandboxing (ProtectSystem=, …) is not emulated: test_service_unit.py runs
the worker's unit against its paths.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

UNITS = Path("/etc/systemd/system")
STATE = Path("/run/fake-systemd")
LISTS = {"Environment", "EnvironmentFile", "StateDirectory", "ExecStart", "ReadWritePaths"}


def parse(name: str) -> dict[str, list[str]]:
    files = [UNITS / name, *sorted((UNITS / f"{name}.d").glob("*.conf"))]
    if not files[0].is_file():
        raise SystemExit(f"Unit {name} not found.")
    out: dict[str, list[str]] = {}
    for path in files:
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";", "[")):
                continue
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if key in LISTS:
                if value == "":
                    out[key] = []  # systemd: an empty assignment resets the list
                else:
                    out.setdefault(key, []).extend(shlex.split(value) if key == "StateDirectory" else [value])
            else:
                out[key] = [value]
    return out


def environment(unit: dict[str, list[str]], user: pwd.struct_passwd) -> dict[str, str]:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name}
    for path in unit.get("EnvironmentFile", []):
        optional = path.startswith("-")
        file = Path(path.lstrip("-"))
        if not file.is_file():
            if optional:
                continue
            raise SystemExit(f"EnvironmentFile {file} is missing")
        for line in file.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip().strip('"')
    for assignment in unit.get("Environment", []):
        for word in shlex.split(assignment):
            key, _, value = word.partition("=")
            env[key] = value
    return env


def start(name: str) -> int:
    if name.endswith(".timer"):
        parse(name)
        return 0
    unit = parse(name if name.endswith(".service") else f"{name}.service")
    user = pwd.getpwnam(unit.get("User", ["root"])[0])
    group = grp.getgrnam(unit.get("Group", [user.pw_name])[0]).gr_gid if "Group" in unit else user.pw_gid
    mode = int(unit.get("StateDirectoryMode", ["0755"])[0], 8)
    for directory in unit.get("StateDirectory", []):
        path = Path("/var/lib") / directory
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, user.pw_uid, group)
        os.chmod(path, mode)
    umask = int(unit.get("UMask", ["0022"])[0], 8)
    argv = shlex.split(unit["ExecStart"][-1])
    env = environment(unit, user)

    def become() -> None:
        os.setsid()
        os.umask(umask)
        os.initgroups(user.pw_name, group)
        os.setgid(group)
        os.setuid(user.pw_uid)

    STATE.mkdir(parents=True, exist_ok=True)
    base = name.removesuffix(".service")
    if unit.get("Type", ["simple"])[0] == "oneshot":
        return subprocess.run(argv, env=env, preexec_fn=become, cwd="/", check=False).returncode
    log = open(STATE / f"{base}.log", "ab")  # noqa: SIM115  (handed to the child)
    proc = subprocess.Popen(argv, env=env, preexec_fn=become, cwd="/", stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log)
    (STATE / f"{base}.pid").write_text(str(proc.pid))
    time.sleep(0.5)
    if proc.poll() is not None:
        print(f"{name}: exited at once ({proc.returncode}); see {STATE / (base + '.log')}", file=sys.stderr)
        return 1
    return 0


def stop(name: str) -> int:
    pid_file = STATE / f"{name.removesuffix('.service')}.pid"
    if not pid_file.exists():
        return 0
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink()
        return 0
    for _ in range(600):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return 0


def is_active(name: str) -> int:
    pid_file = STATE / f"{name.removesuffix('.service')}.pid"
    if not pid_file.exists():
        print("inactive")
        return 3
    try:
        os.kill(int(pid_file.read_text()), 0)
    except ProcessLookupError:
        print("failed")
        return 3
    print("active")
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        raise SystemExit("usage: systemctl daemon-reload|enable [--now] UNIT…|start|stop|is-active UNIT")
    verb, rest = argv[0], argv[1:]
    if verb == "daemon-reload":
        return 0
    if verb == "enable":
        now = "--now" in rest
        units = [u for u in rest if not u.startswith("-")]
        for unit in units:
            parse(unit if "." in unit else f"{unit}.service")
        return max((start(u) for u in units), default=0) if now else 0
    if verb in ("start", "restart"):
        if verb == "restart":
            for unit in rest:
                stop(unit)
        return max(start(u) for u in rest)
    if verb == "stop":
        return max(stop(u) for u in rest)
    if verb == "is-active":
        return is_active(rest[0])
    raise SystemExit(f"fake systemctl: {verb} is not emulated")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
