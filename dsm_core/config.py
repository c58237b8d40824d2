"""DSM configuration: one TOML file, environment overrides, validated before anything runs.

Lookup order (first that exists wins): ``--config``, ``$DSM_CONFIG``, ``$DSM_HOME/config.toml``, the
platformdirs user config dir, ``/etc/dsm/config.toml``. No file at all is fine: every key has a default.
``DSM_HOME=DIR`` also moves the data directory (SQLite database, worker key) under DIR, which is how the
demo, the tests and a second instance on one host stay apart.

Every key can be overridden from the environment as ``DSM_<SECTION>_<KEY>`` (``DSM_DATABASE_URL``…).
An unknown key or a bad value stops with the file, the key, the value and the accepted form: an operator
who mistypes ``max_concurent_jobs`` must hear about it, not run with the default silently.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "dsm"
SYSTEM_CONFIG = Path("/etc/dsm/config.toml")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(Exception):
    """A configuration problem, phrased so the operator can fix it without reading code."""

    def __init__(self, source: str, key: str, value: object, accepted: str, message: str | None = None) -> None:
        self.source = source
        self.key = key
        self.value = value
        self.accepted = accepted
        super().__init__(f"{source}: {message or f'{key} = {value!r} is not valid'}; expected {accepted}")


@dataclass(frozen=True)
class _Key:
    section: str
    name: str
    default: object
    accepted: str
    parse: Callable[[object], object]
    doc: str

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def env(self) -> str:
        return f"DSM_{self.section.upper()}_{self.name.upper()}"


def _str(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError
    return value


def _bool(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.lower() in ("true", "1", "yes", "on")
    raise ValueError


def _positive_int(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        value = int(value.strip())
    if not isinstance(value, int) or value <= 0:
        raise ValueError
    return value


def _database_url(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError
    if value == "":
        return value
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if value.startswith("postgresql+psycopg://") or value.startswith("sqlite:///"):
        return value
    raise ValueError


def _log_level(value: object) -> object:
    if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
        raise ValueError
    return value.upper()


TUI_THEMES = ("dark", "ansi")


def _tui_theme(value: object) -> object:
    if not isinstance(value, str) or value.lower() not in TUI_THEMES:
        raise ValueError
    return value.lower()


KEYS: tuple[_Key, ...] = (
    _Key("database", "url", "", 'empty (SQLite in the data dir), "sqlite:///PATH" or '
         '"postgresql+psycopg://USER@/DB?host=/run/postgresql"', _database_url,
         "Where the database lives. Empty: SQLite file dsm.db in the data directory."),
    _Key("database", "sqlite_busy_timeout_ms", 5000, "a whole number of milliseconds > 0", _positive_int,
         "How long a SQLite writer waits for a lock held by another process before failing."),
    _Key("database", "echo", False, "true or false", _bool,
         "Log every SQL statement (debugging only; statements never carry passwords, only sealed blobs)."),
    _Key("paths", "data_dir", "", "empty or an absolute directory path", _str,
         "Data directory (SQLite database, worker key). Empty: $DSM_HOME, else the platform user data dir."),
    _Key("paths", "worker_key_file", "", "empty or an absolute file path", _str,
         "The worker's private key (mode 0600). Empty: worker.key in the data directory."),
    _Key("worker", "database_url", "", 'empty (database.url), or "postgresql+psycopg://dsm_worker@/dsm?host='
         '/run/postgresql"', _database_url,
         "The worker's own database URL, used by `dsm worker` and `dsm init --worker` only. With PostgreSQL and "
         "DSM's roles it names the worker's login (dsm_worker), so the operators' database.url can name none. "
         "Empty: database.url."),
    _Key("logging", "level", "INFO", "one of " + ", ".join(LOG_LEVELS), _log_level,
         "Threshold of the single-line logs written to stderr."),
    _Key("tui", "theme", "dark", "one of " + ", ".join(TUI_THEMES), _tui_theme,
         "Console colours: dark (the default), or ansi for the terminal's own 16 colours. NO_COLOR is honoured."),
    _Key("tui", "mouse", False, "true or false", _bool,
         "Let the console take the mouse (off by default, as in k9s: terminal copy and paste keep working)."),
    _Key("tui", "keys", "", 'comma-separated ACTION=KEY, e.g. "servers.refresh=R, jobs.cancel=ctrl+x"', _str,
         "Remap console keys by action id (`?` in the console lists the actions)."),
)
_BY_SECTION: dict[str, dict[str, _Key]] = {}
for _k in KEYS:
    _BY_SECTION.setdefault(_k.section, {})[_k.name] = _k


@dataclass(frozen=True)
class Config:
    database_url: str
    sqlite_busy_timeout_ms: int
    database_echo: bool
    data_dir: Path
    worker_key_file: Path
    log_level: str
    source: Path | None
    """The file this configuration was read from, or None when only defaults and environment apply."""
    tui_theme: str = "dark"
    tui_mouse: bool = False
    tui_keys: str = ""
    worker_database_url: str = ""
    """The worker's own URL (worker.database_url); empty: database_url. See ``for_worker``."""

    def for_worker(self) -> Config:
        """This configuration as the worker uses it: its own login where ``worker.database_url`` names one."""
        import dataclasses

        if not self.worker_database_url:
            return self
        return dataclasses.replace(self, database_url=self.worker_database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, when the database is one (None for PostgreSQL or in-memory)."""
        from sqlalchemy.engine import make_url

        if not self.is_sqlite:
            return None
        database = make_url(self.database_url).database
        if database and database.startswith("file:"):  # a URI filename (uri=true): file:/path?mode=ro
            database = database[len("file:"):].split("?", 1)[0]
        return Path(database) if database and database != ":memory:" else None

    def redacted_database_url(self) -> str:
        """The URL with any password replaced: safe to print in the TUI header and in logs."""
        from urllib.parse import unquote

        from sqlalchemy.engine import make_url

        rendered = make_url(self.database_url).render_as_string(hide_password=True)
        head, sep, query = rendered.partition("?")
        return head + sep + unquote(query)  # host=/run/postgresql as written, not host=%2Frun%2Fpostgresql


def dsm_home(environ: Mapping[str, str]) -> Path | None:
    home = environ.get("DSM_HOME")
    return Path(home).expanduser().resolve() if home else None


def _why_not_a_file(path: Path) -> str:
    """What an operator must fix: a directory they may not enter reads as "missing" to is_file()."""
    try:
        path.stat()
    except PermissionError:
        return ("a file you may read: you may not reach it (permission denied on it or a directory above it; "
                "the config holds no secret, so make it and its directories readable: mode 0644 / 0755)")
    except OSError:
        return "an existing TOML file"
    return "a regular TOML file"


def find_config_file(explicit: str | Path | None, environ: Mapping[str, str],
                     missing_ok: bool = False) -> Path | None:
    """The first configuration file in lookup order that exists, or None. ``missing_ok``: a named file
    (--config, $DSM_CONFIG) that does not exist yet is not an error (``dsm init`` is about to write it)."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            if missing_ok and not path.exists():
                return None
            raise ConfigError("--config", "path", str(path), _why_not_a_file(path))
        return path
    if environ.get("DSM_CONFIG"):
        path = Path(environ["DSM_CONFIG"]).expanduser()
        if not path.is_file():
            if missing_ok and not path.exists():
                return None
            raise ConfigError("$DSM_CONFIG", "path", str(path), _why_not_a_file(path))
        return path
    for candidate in default_config_locations(environ):
        if candidate.is_file():
            return candidate
    return None


def default_config_locations(environ: Mapping[str, str]) -> list[Path]:
    home = dsm_home(environ)
    places = []
    if home is not None:
        places.append(home / "config.toml")
    places.append(Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml")
    places.append(SYSTEM_CONFIG)
    return places


def writable_config_location(environ: Mapping[str, str], explicit: str | Path | None = None) -> Path:
    """Where ``dsm init`` writes a new config when none exists: the file named by --config or $DSM_CONFIG
    (the service unit names /etc/dsm/config.toml), else $DSM_HOME/config.toml, else the user config dir."""
    if explicit:
        return Path(explicit).expanduser()
    if environ.get("DSM_CONFIG"):
        return Path(environ["DSM_CONFIG"]).expanduser()
    home = dsm_home(environ)
    if home is not None:
        return home / "config.toml"
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(file)", None, f"valid TOML ({exc})", message="cannot be parsed") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "(file)", None, "UTF-8 TOML text", message="is not text (binary data?)") from None
    except OSError as exc:
        raise ConfigError(str(path), "(file)", None, f"a readable file ({exc.strerror})",
                          message="cannot be read") from None


def _parse(key: _Key, value: object, source: str) -> object:
    try:
        return key.parse(value)
    except (ValueError, TypeError):
        raise ConfigError(source, key.dotted, value, key.accepted) from None


def load_config(explicit: str | Path | None = None, environ: Mapping[str, str] | None = None,
                missing_ok: bool = False) -> Config:
    env = os.environ if environ is None else environ
    path = find_config_file(explicit, env, missing_ok)
    values: dict[str, object] = {k.dotted: k.default for k in KEYS}
    if path is not None:
        raw = _read_toml(path)
        for section, body in raw.items():
            known = _BY_SECTION.get(section)
            if known is None:
                raise ConfigError(str(path), section, None,
                                  "one of the sections " + ", ".join(f"[{s}]" for s in _BY_SECTION),
                                  message=f"[{section}] is not a section DSM knows")
            if not isinstance(body, dict):
                raise ConfigError(str(path), section, body, f"a [{section}] table")
            for name, value in body.items():
                key = known.get(name)
                if key is None:
                    raise ConfigError(str(path), f"{section}.{name}", value,
                                      f"one of the keys of [{section}]: " + ", ".join(known),
                                      message=f"{section}.{name} is not a key DSM knows")
                values[key.dotted] = _parse(key, value, str(path))
    for key in KEYS:
        if key.env in env:
            values[key.dotted] = _parse(key, env[key.env], f"${key.env}")

    home = dsm_home(env)
    data_dir_raw = str(values["paths.data_dir"])
    if data_dir_raw:
        data_dir = Path(data_dir_raw).expanduser()
        if not data_dir.is_absolute():
            raise ConfigError(str(path or "$DSM_PATHS_DATA_DIR"), "paths.data_dir", data_dir_raw,
                              "an absolute directory path")
    elif home is not None:
        data_dir = home
    else:
        data_dir = Path(platformdirs.user_data_dir(APP_NAME))
    key_raw = str(values["paths.worker_key_file"])
    worker_key = Path(key_raw).expanduser() if key_raw else data_dir / "worker.key"
    url = str(values["database.url"]) or f"sqlite:///{data_dir / 'dsm.db'}"
    timeout = values["database.sqlite_busy_timeout_ms"]
    assert isinstance(timeout, int)
    return Config(
        database_url=url,
        sqlite_busy_timeout_ms=timeout,
        database_echo=bool(values["database.echo"]),
        data_dir=data_dir,
        worker_key_file=worker_key,
        log_level=str(values["logging.level"]),
        source=path,
        tui_theme=str(values["tui.theme"]),
        tui_mouse=bool(values["tui.mouse"]),
        tui_keys=str(values["tui.keys"]),
        worker_database_url=str(values["worker.database_url"]),
    )


def render_default_config() -> str:
    """A config file with every key at its default, documented: what ``dsm init`` writes."""
    lines = ["# DSM configuration. Every key is shown at its default; see config.example.toml.", ""]
    for section, keys in _BY_SECTION.items():
        lines.append(f"[{section}]")
        for key in keys.values():
            lines.append(f"# {key.doc}")
            lines.append(f"# accepted: {key.accepted}; environment: {key.env}")
            lines.append(f"{key.name} = {_toml_value(key.default)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
