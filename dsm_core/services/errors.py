"""Errors the service layer raises; the CLI maps them to exit codes and the TUI to notifications."""

from __future__ import annotations


class ServiceError(Exception):
    exit_code = 1


class ValidationError(ServiceError):
    """Bad input: names the field, what is wrong with it, and how to fix it."""

    exit_code = 2

    def __init__(self, field: str, problem: str, fix: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        text = f"{field}: {problem}"
        if fix:
            text += f"; {fix}"
        super().__init__(text)


class PermissionDenied(ServiceError):
    exit_code = 3


class NotFound(ServiceError):
    exit_code = 4


class Conflict(ServiceError):
    exit_code = 5


class Unsafe(Conflict):
    """A change that would take a cluster or group below its minimum (or cannot be made safe as asked): refused before
    anything is created. The CLI's exit status 4, as ``dsm rolling-update --plan`` and ``dsm safety check`` use."""

    exit_code = 4
