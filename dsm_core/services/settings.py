"""Global settings (activity, network, notification, virtual media): show to anyone, set as admin.

Every settable key is described here with its type and bounds, so a bad value is refused with the key,
the value and the accepted form, and secret keys (SMTP, share passwords) are sealed on the way in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from dsm_core.credentials.sealing import decode_public_key, seal
from dsm_core.credentials.secret import Secret
from dsm_core.jobtypes import JOB_TYPE_SPECS
from dsm_core.models import (
    SINGLETON_ID,
    ActivitySettings,
    MaintenanceSettings,
    NetworkSettings,
    NotificationSettings,
    VirtualMediaSettings,
)
from dsm_core.models.base import BACKOFF_TYPES, LOG_LEVELS, SHARE_TYPES
from dsm_core.package_files import parse_dirs
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.errors import ServiceError, ValidationError
from dsm_core.services.views import row_view

M = TypeVar("M", bound=SQLModel)


def singleton(session: Session, /, model: type[M]) -> M:
    """The one row of a settings table, created with defaults on first use."""
    row = session.get(model, SINGLETON_ID)
    if row is not None:
        return row
    row = model(id=SINGLETON_ID)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another process created it between our read and insert
        found = session.get(model, SINGLETON_ID)
        assert found is not None
        return found
    return row


def read_singleton(session: Session, /, model: type[M]) -> M:
    """The one row of a settings table as stored, or its defaults when it was never written: for readers (the
    scheduler's tick) that must not take a write lock to read a setting."""
    return session.get(model, SINGLETON_ID) or model(id=SINGLETON_ID)


def sealing_key(session: Session, /) -> X25519PublicKey:
    """The worker's public key; sealing is impossible before `dsm init` stored it."""
    row = session.get(ActivitySettings, SINGLETON_ID)
    if row is None or not row.sealing_public_key:
        raise ServiceError("no worker public key in the database yet; run `dsm init` first")
    return decode_public_key(row.sealing_public_key)


def seal_for_worker(session: Session, /, secret: Secret) -> str:
    return seal(secret, sealing_key(session))


@dataclass(frozen=True)
class SettingKey:
    column: str
    accepted: str
    parse: Callable[[str], Any]
    secret: bool = False
    pending: str | None = None
    """Stored and validated, but nothing acts on it yet: said next to the value, so it is never taken for
    an active setting (e.g. "takes effect with the scheduler")."""


SCHEDULER = "takes effect with the scheduler"


def _later(key: SettingKey, when: str) -> SettingKey:
    return SettingKey(key.column, key.accepted, key.parse, key.secret, when)


def _int_range(lo: int, hi: int) -> Callable[[str], Any]:
    def parse(text: str) -> int:
        value = int(text)
        if not lo <= value <= hi:
            raise ValueError
        return value

    return parse


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ValueError


def _choice(values: tuple[str, ...]) -> Callable[[str], Any]:
    def parse(text: str) -> str:
        if text not in values:
            raise ValueError
        return text

    return parse


def _optional_text(max_len: int) -> Callable[[str], Any]:
    def parse(text: str) -> str | None:
        if len(text) > max_len:
            raise ValueError
        return text or None

    return parse


def _url(text: str) -> str | None:
    if text and not text.startswith(("https://", "http://")):
        raise ValueError
    return text or None


def _emails(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if any(t.count("@") != 1 or " " in t or len(t) > 254 for t in items):
        raise ValueError
    return items


def _patterns(text: str) -> str:
    if not text.strip() or len(text) > 1000:
        raise ValueError
    return ",".join(t.strip() for t in text.split(",") if t.strip())


def _job_types(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if any(t not in JOB_TYPE_SPECS for t in items):
        raise ValueError
    return items


def _package_dirs(text: str) -> str | None:
    return ",".join(parse_dirs(text)) or None


def _I(column: str, lo: int, hi: int) -> SettingKey:
    return SettingKey(column, f"a whole number from {lo} to {hi}", _int_range(lo, hi))


def _B(column: str) -> SettingKey:
    return SettingKey(column, "true or false", _bool)


def _T(column: str, max_len: int = 255) -> SettingKey:
    return SettingKey(column, f"text of at most {max_len} characters (empty clears it)", _optional_text(max_len))


def _S(column: str) -> SettingKey:
    return SettingKey(
        column, "a password, read from standard input (give the value -)", _optional_text(1024), secret=True
    )


SECTIONS: dict[str, tuple[type[SQLModel], dict[str, SettingKey]]] = {
    "activity": (
        ActivitySettings,
        {
            k.column: k
            for k in (
                SettingKey("log_level", "one of " + ", ".join(LOG_LEVELS), _choice(LOG_LEVELS)),
                _I("log_retention_days", 1, 3650),
                _I("audit_retention_days", 0, 36500),
                _I("job_retention_days", 1, 3650),
                _B("auto_cleanup_enabled"),
                _B("job_auto_cleanup_enabled"),
                _B("auto_cancel_stale_jobs"),
                _I("stale_pending_hours", 1, 8760),
                _I("stale_running_hours", 1, 8760),
                _B("keep_statistics"),
                _I("statistics_retention_days", 1, 3650),
                _B("alert_on_failures"),
                _B("alert_on_slow_commands"),
                _I("slow_command_threshold_ms", 1, 600_000),
                _I("max_request_body_kb", 0, 10_240),
                _I("max_response_body_kb", 0, 10_240),
                _I("max_read_body_kb", 0, 10_240),
                _I("idrac_max_concurrent", 1, 8),
                _I("global_max_concurrent", 1, 4096),
                _I("idrac_request_delay_ms", 0, 60_000),
                _I("discovery_max_threads", 1, 4096),
                _B("pause_idrac_operations"),
                _B("scp_backup_before_change"),
                _I("scp_job_timeout_minutes", 5, 24 * 60),
                SettingKey("package_dirs", "comma-separated absolute directories on the worker host, not / (empty: "
                           "none, and a job naming a file is refused)", _package_dirs),
            )
        },
    ),
    "network": (
        NetworkSettings,
        {
            k.column: k
            for k in (
                _I("connection_timeout_seconds", 1, 600),
                _I("read_timeout_seconds", 1, 3600),
                _I("operation_timeout_seconds", 1, 86_400),
                _I("max_retry_attempts", 0, 20),
                _I("retry_delay_seconds", 0, 600),
                SettingKey("retry_backoff_type", "one of " + ", ".join(BACKOFF_TYPES), _choice(BACKOFF_TYPES)),
                _I("max_requests_per_minute", 1, 100_000),
                _later(_B("require_prereq_validation"), "takes effect with firmware updates"),
                _B("monitor_latency"),
                _I("latency_alert_threshold_ms", 1, 600_000),
                _I("max_response_body_mb", 1, 1024),
                _B("allow_loopback_devices"),
                _I("max_sync_devices", 1, 1_000_000),
            )
        },
    ),
    "notification": (
        NotificationSettings,
        {
            k.column: k
            for k in (
                _T("smtp_host"),
                _I("smtp_port", 1, 65535),
                _T("smtp_user", 200),
                _S("smtp_password"),
                _T("smtp_from_email"),
                SettingKey(
                    "teams_webhook_url",
                    "an http:// or https:// URL on the local network, read from standard input (give the value -; "
                    "it carries its token, so it is sealed like a password)",
                    _url,
                    secret=True,
                ),
                _T("teams_mention_users", 1000),
                _B("notify_on_job_started"),
                _B("notify_on_job_complete"),
                _B("notify_on_job_failed"),
                SettingKey("critical_job_types", "comma-separated job types", _job_types),
                _B("mention_on_critical_failures"),
                _B("notify_on_unsafe_cluster"),
                _B("notify_on_cluster_warning"),
                _B("notify_on_cluster_status_change"),
                _B("smtp_starttls"),
                SettingKey("smtp_recipients", "comma-separated e-mail addresses (empty clears them)", _emails),
                _T("syslog_host"),
                _I("syslog_port", 1, 65535),
                _B("notify_on_window_events"),
                _I("max_attempts", 1, 50),
            )
        },
    ),
    "maintenance": (
        MaintenanceSettings,
        {
            k.column: k
            for k in (
                _B("four_eyes"),
                _B("operators_may_approve"),
                SettingKey("production_clusters", "comma-separated cluster name patterns (* matches any; the "
                           "approval of a window on such a cluster wants the cluster's name typed)", _patterns),
            )
        },
    ),
    "virtual_media": (
        VirtualMediaSettings,
        {
            k.column: k
            for k in (
                SettingKey("share_type", "one of " + ", ".join(SHARE_TYPES), _choice(SHARE_TYPES)),
                _T("host"),
                _T("export_path", 1024),
                _T("iso_path", 1024),
                _B("use_auth"),
                _T("username", 100),
                _S("password"),
                _T("notes", 4000),
            )
        },
    ),
}


def _split_key(dotted: str) -> tuple[str, str, type[SQLModel], SettingKey]:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS:
        raise ValidationError(
            "setting", f"{dotted!r} names no section", "use SECTION.KEY with SECTION one of " + ", ".join(SECTIONS)
        )
    model, keys = SECTIONS[section]
    if key not in keys:
        raise ValidationError("setting", f"{dotted!r} is not a setting", f"keys of {section}: " + ", ".join(keys))
    return section, key, model, keys[key]


def _section_view(row: SQLModel, section: str) -> dict[str, Any]:
    """The settable keys only (a secret as KEY_set: true/false): a column nothing reads is not shown."""
    full = row_view(row, exclude=("id", "created_at"))
    keys = SECTIONS[section][1]
    return {(f"{k}_set" if spec.secret else k): full.get(f"{k}_set" if spec.secret else k)
            for k, spec in keys.items()}


def pending_notes() -> dict[str, str]:
    """SECTION.KEY → why the key does nothing yet (what `settings show` and the console print beside it)."""
    return {f"{section}.{k}": spec.pending for section, (_, keys) in SECTIONS.items() for k, spec in keys.items()
            if spec.pending}


@query("viewer")
def show_settings(session: Session, /, section: str | None = None) -> dict[str, dict[str, Any]]:
    if section is not None and section not in SECTIONS:
        raise ValidationError("section", f"{section!r} is not a settings section", "use one of " + ", ".join(SECTIONS))
    names = [section] if section else list(SECTIONS)
    return {
        name: _section_view(session.get(SECTIONS[name][0], SINGLETON_ID) or SECTIONS[name][0](id=SINGLETON_ID), name)
        for name in names
    }


@mutation("settings.set", "admin")
def set_setting(tx: Tx, /, dotted: str, value: str | Secret) -> dict[str, Any]:
    section, key, model, spec = _split_key(dotted)
    row = singleton(tx.session, model)
    if spec.secret:
        if not isinstance(value, Secret):
            raise ValidationError(
                dotted,
                "a password may not be given on the command line",
                "give the value - and type it on standard input",
            )
        try:
            spec.parse(value.reveal())
        except (ValueError, TypeError):
            # the value is a secret: the message says what was wrong with it, never what it was
            raise ValidationError(dotted, "is not valid (the value is not shown: it is secret)",
                                  f"expected {spec.accepted}") from None
        stored: Any = seal_for_worker(tx.session, value) if value.reveal() else None
        setattr(row, f"{spec.column}_sealed", stored)
        tx.audit("settings", section, key=key, value="(sealed)" if stored else "(cleared)")
    else:
        text = value.reveal() if isinstance(value, Secret) else str(value)
        try:
            parsed = spec.parse(text)
        except (ValueError, TypeError) as exc:
            why = f" ({exc})" if isinstance(exc, ValueError) and str(exc) and not str(exc).startswith("invalid") else ""
            raise ValidationError(dotted, f"{text!r} is not valid{why}", f"expected {spec.accepted}") from None
        previous = getattr(row, spec.column)
        setattr(row, spec.column, parsed)
        tx.audit("settings", section, key=key, value=parsed, previous=previous)
    tx.session.add(row)
    return _section_view(row, section)


def is_secret_setting(dotted: str) -> bool:
    return _split_key(dotted)[3].secret
