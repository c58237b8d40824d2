"""`dsm sim`: run a simulated Dell iDRAC fleet until interrupted.

Prints one JSON line when every iDRAC listens: {"ready": true, "admin": URL, "endpoints": [...]}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from dsm_sim.hardware import DEFAULT_MODELS, MODELS
from dsm_sim.spec import FleetSpec, SpecError, load_fleet_toml


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dsm sim", description="Run a simulated Dell iDRAC fleet on loopback addresses.")
    p.add_argument("--spec", type=Path, help="fleet TOML file (flags given as well override it)")
    p.add_argument("--count", type=int)
    p.add_argument("--start", help="first loopback address (default 127.0.10.1); the others follow it")
    p.add_argument("--port", type=int, help="HTTPS port of every iDRAC (default 8443)")
    p.add_argument(
        "--models", help=f"comma-separated, cycled ({', '.join(MODELS)}; default {','.join(DEFAULT_MODELS)})"
    )
    p.add_argument("--seed", type=int, help="seed for service tags and serials")
    p.add_argument("--tag-scheme", choices=("dell", "vcsim"), help="vcsim: VCS0000, VCS0001… as vcsim's hosts")
    p.add_argument("--username", help="iDRAC user (default root)")
    p.add_argument("--time-scale", type=float, help="simulated seconds per real second (default 1)")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="TARGET=FAULTS",
        help="health faults, e.g. 127.0.10.3:8443=psu,fan or 5=disk (index)",
    )
    p.add_argument("--firmware", action="append", default=[], metavar="MODEL=VERSION", help="iDRAC firmware override")
    p.add_argument(
        "--inject",
        action="append",
        default=[],
        metavar="TARGET:FAULT=VALUE,...",
        help="faults from the start, e.g. all:latency_ms=50,jitter_ms=10 or 127.0.10.2:8443:error_503_rate=0.2",
    )
    p.add_argument("--random-faults", type=float, help="share of servers given one random health fault")
    p.add_argument("--admin-port", type=int, help="admin API port on 127.0.0.1 (default: a free one)")
    p.add_argument("--shared-certificate", action="store_true", help="one TLS certificate for all (saves memory)")
    return p


def spec_from_args(args: argparse.Namespace) -> FleetSpec:
    spec = load_fleet_toml(args.spec) if args.spec else FleetSpec()
    for field in (
        "count",
        "start",
        "port",
        "seed",
        "tag_scheme",
        "username",
        "time_scale",
        "random_faults",
        "admin_port",
    ):
        value = getattr(args, field)
        if value is not None:
            setattr(spec, field, value)
    if args.models:
        spec.models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    # The password never goes on a command line (ps shows it): environment or the spec file.
    if os.environ.get("DSM_SIM_PASSWORD"):
        spec.password = os.environ["DSM_SIM_PASSWORD"]
    for item in args.fault:
        target, sep, faults = item.partition("=")
        if not sep:
            raise SpecError(f"--fault {item!r}: write TARGET=psu,fan")
        spec.health_faults[target] = tuple(f.strip() for f in faults.split(",") if f.strip())
    for item in args.firmware:
        model, sep, version = item.partition("=")
        if not sep:
            raise SpecError(f"--firmware {item!r}: write MODEL=VERSION")
        spec.firmware[model] = version
    for item in args.inject:
        target, sep, settings = item.rpartition(":")
        if not sep or "=" not in settings:
            raise SpecError(f"--inject {item!r}: write TARGET:fault=value[,fault=value]")
        parsed: dict[str, object] = {}
        for pair in settings.split(","):
            key, _, raw = pair.partition("=")
            value = raw.strip().lower()
            if value in ("true", "false", "yes", "no"):
                parsed[key.strip()] = value in ("true", "yes")
                continue
            try:
                parsed[key.strip()] = float(value)
            except ValueError:
                raise SpecError(f"--inject {item!r}: {key.strip()}={raw!r} is not a number or true/false") from None
        spec.faults.setdefault(target, {}).update(parsed)
    if args.shared_certificate:
        spec.shared_certificate = True
    spec.validate()
    return spec


async def _run(spec: FleetSpec) -> None:
    from dsm_sim.fleet import Fleet
    from dsm_sim.http import shrink_tls_buffers

    shrink_tls_buffers()
    fleet = Fleet(spec)
    await fleet.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps(fleet.ready_info()), flush=True)
    print(
        f"dsm sim: {len(fleet.idracs)} iDRACs on {fleet.idracs[0].spec.endpoint} … "
        f"{fleet.idracs[-1].spec.endpoint}; admin {fleet.ready_info()['admin']}",
        file=sys.stderr,
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await fleet.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        spec = spec_from_args(args)
    except SpecError as exc:
        print(f"dsm sim: error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_run(spec))
    except OSError as exc:
        print(f"dsm sim: error: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0
