"""Simulator benchmark: 1,000 iDRACs in one process — start time, memory, authenticated GETs/s.

The fleet runs as a child process (`python -m dsm_sim`); this process is the client: one session per
iDRAC, then GETs of the System resource over HTTPS keep-alive, at most 2 in flight per iDRAC (DSM's own
cap). Baseline, measured in the same run: the same client against a fleet of one iDRAC.
Targets (issue 3): start ≤ 10 s, RSS ≤ 500 MB, ≥ 1,000 GETs/s in total.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dsm_sim.fleet import FleetProcess
from dsm_sim.spec import FleetSpec

SECONDS = float(os.environ.get("DSM_BENCH_SECONDS", "8"))
PATH = "/redfish/v1/Systems/System.Embedded.1"


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(text.split("VmRSS:")[1].split()[0]) / 1024


class Conn:
    """A minimal HTTP/1.1 keep-alive client over TLS: httpx costs ~1 ms of client CPU per request, which
    would measure the client; this costs a tenth of that, so the figure is the simulator's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, endpoint: str, ctx: ssl.SSLContext) -> Conn:
        host, port = endpoint.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port), ssl=ctx)
        return cls(reader, writer, host)

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        data = await self.reader.readexactly(int(hdrs.get("content-length", "0")))
        return status, hdrs, data

    def close(self) -> None:
        self.writer.close()


async def _hammer(endpoints: list[str], seconds: float) -> tuple[int, int, float]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the simulator's certificates are self-signed, as iDRACs' are
    sem = asyncio.Semaphore(100)
    sessions: dict[str, tuple[str, str]] = {}
    conns: dict[str, list[Conn]] = {}
    login_body = json.dumps({"UserName": "root", "Password": "calvin"}).encode()

    async def login(ep: str) -> None:
        async with sem:
            conns[ep] = [await Conn.open(ep, ctx), await Conn.open(ep, ctx)]
            status, hdrs, _ = await conns[ep][0].request(
                "POST", "/redfish/v1/SessionService/Sessions", {"Content-Type": "application/json"}, login_body
            )
            assert status == 201, status
            sessions[ep] = (hdrs["x-auth-token"], hdrs["location"])

    async def logout(ep: str) -> None:
        async with sem:
            token, location = sessions[ep]
            await conns[ep][0].request("DELETE", location, {"X-Auth-Token": token})
            for c in conns[ep]:
                c.close()

    await asyncio.gather(*(login(ep) for ep in endpoints))
    done = errors = 0
    stop = time.monotonic() + seconds

    async def worker(ep: str, conn: Conn) -> None:
        nonlocal done, errors
        headers = {"X-Auth-Token": sessions[ep][0]}
        while time.monotonic() < stop:
            status, _, data = await conn.request("GET", PATH, headers)
            if status == 200 and json.loads(data)["PowerState"]:
                done += 1
            else:
                errors += 1

    t0 = time.monotonic()
    # Two connections per iDRAC, one request in flight on each: at most 2 at once, as DSM's client allows.
    await asyncio.gather(*(worker(ep, c) for ep in endpoints for c in conns[ep]))
    elapsed = time.monotonic() - t0
    await asyncio.gather(*(logout(ep) for ep in endpoints))
    return done, errors, elapsed


def run(count: int, start: str, active: int) -> dict[str, float]:
    t0 = time.monotonic()
    with FleetProcess(FleetSpec(count=count, start=start)) as fleet:
        started = time.monotonic() - t0
        memory = rss_mb(fleet.pid)
        endpoints = fleet.endpoints[:active]
        done, errors, elapsed = asyncio.run(_hammer(endpoints, SECONDS))
        open_sessions = fleet.open_sessions()
        servers = fleet.servers()
        peak = max(s["counters"]["peak_concurrent"] for s in servers)
        rss_after = rss_mb(fleet.pid)
    return {
        "start_s": started,
        "rss_mb": memory,
        "rss_after_mb": rss_after,
        "gets": done,
        "errors": errors,
        "gets_per_s": done / elapsed,
        "open_sessions": open_sessions,
        "peak_per_idrac": peak,
    }


def main() -> None:
    base = run(1, "127.0.30.1", 1)
    print(f"baseline: 1 iDRAC           {base['gets_per_s']:8.0f} GETs/s (2 in flight)")
    big = run(1000, "127.0.32.1", int(os.environ.get("DSM_BENCH_ACTIVE", "1000")))
    print(
        f"fleet start: 1,000 iDRACs   {big['start_s']:8.2f} s          (target <= 10 s)   "
        f"{'ok' if big['start_s'] <= 10 else 'MISSED'}"
    )
    print(
        f"fleet RSS after start       {big['rss_mb']:8.0f} MB         (target <= 500 MB) "
        f"{'ok' if big['rss_mb'] <= 500 else 'MISSED'}; after load {big['rss_after_mb']:.0f} MB"
    )
    print(
        f"authenticated GETs/s        {big['gets_per_s']:8.0f}            (target >= 1,000)  "
        f"{'ok' if big['gets_per_s'] >= 1000 else 'MISSED'}; "
        f"{big['gets_per_s'] / base['gets_per_s']:.1f}x the one-iDRAC baseline"
    )
    print(
        f"errors {big['errors']:.0f}, open sessions after logout {big['open_sessions']:.0f}, "
        f"peak concurrent requests on one iDRAC {big['peak_per_idrac']:.0f}"
    )


if __name__ == "__main__":
    main()
