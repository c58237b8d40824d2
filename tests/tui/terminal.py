"""A real terminal for black-box tests: the program runs on a pty, pyte renders what it draws.

This is what tmux does for a person, without needing tmux: the test reads the screen as text and
types keys, and nothing inside the program knows it is being tested.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time

import pyte


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str], cols: int = 140, rows: int = 40) -> None:
        self.cols, self.rows = cols, rows
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        env = dict(env, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        pid, fd = pty.fork()
        if pid == 0:  # the child: size the terminal, then become the program
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.execvpe(argv[0], argv, env)
        self.pid, self.fd = pid, fd
        self.exit_code: int | None = None

    def pump(self, timeout: float = 0.1) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # the program ended and closed the pty
            data = b""
        if data:
            self.raw += data
            self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            if needle in self.text():
                return self.text()
            if self.poll() is not None:
                break
        raise AssertionError(f"{needle!r} never appeared on the screen:\n{self.text()}")

    def send(self, keys: str | bytes) -> None:
        os.write(self.fd, keys.encode() if isinstance(keys, str) else keys)
        for _ in range(3):
            self.pump(0.05)

    def poll(self) -> int | None:
        if self.exit_code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code

    def wait_exit(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            code = self.poll()
            if code is not None:
                return code
        raise AssertionError(f"the program did not exit:\n{self.text()}")

    def close(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.wait_exit(30)
            except AssertionError:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        os.close(self.fd)
