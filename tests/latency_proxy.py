"""A TCP proxy on 127.0.0.1 that can delay every answer: a slow vCenter on cue.

The kill tests must catch each step while it runs; steps that only talk to vCenter finish in milliseconds against
vcsim. The proxy passes bytes through untouched (TLS included: DSM still sees and pins vcsim's certificate) and,
while ``delay`` is set, holds each chunk from the server that long.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class LatencyProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.delay = 0.0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _pump(self, source: socket.socket, target: socket.socket, delayed: bool) -> None:
        try:
            while not self._stop.is_set():
                chunk = source.recv(65536)
                if not chunk:
                    break
                if delayed and self.delay:
                    time.sleep(self.delay)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            for args in ((client, server, False), (server, client, True)):
                t = threading.Thread(target=self._pump, args=args, daemon=True)
                t.start()
                self._threads.append(t)

    def start(self) -> None:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@contextmanager
def latency_proxy(host: str, port: int) -> Iterator[LatencyProxy]:
    proxy = LatencyProxy((host, port))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
