"""Configuration: lookup order, DSM_HOME, environment overrides, and errors that name key and fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dsm_core.config import KEYS, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_under_dsm_home(tmp_path: Path) -> None:
    cfg = load_config(environ={"DSM_HOME": str(tmp_path)})
    assert cfg.source is None
    assert cfg.data_dir == tmp_path.resolve()
    assert cfg.database_url == f"sqlite:///{tmp_path.resolve() / 'dsm.db'}"
    assert cfg.worker_key_file == tmp_path.resolve() / "worker.key"


def test_lookup_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[logging]\nlevel = "DEBUG"\n')
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('[logging]\nlevel = "ERROR"\n')
    via_env = tmp_path / "env.toml"
    via_env.write_text('[logging]\nlevel = "WARNING"\n')
    env = {"DSM_HOME": str(home), "DSM_CONFIG": str(via_env)}
    assert load_config(explicit, env).log_level == "ERROR"
    assert load_config(None, env).log_level == "WARNING"
    assert load_config(None, {"DSM_HOME": str(home)}).log_level == "DEBUG"


def test_environment_overrides_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[database]\nurl = "sqlite:////tmp/a.db"\n')
    cfg = load_config(environ={"DSM_HOME": str(tmp_path),
                               "DSM_DATABASE_URL": "postgresql://dsm@/dsm?host=/run/postgresql"})
    assert cfg.database_url == "postgresql+psycopg://dsm@/dsm?host=/run/postgresql"
    assert not cfg.is_sqlite


def test_unknown_key_names_file_key_and_choices(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[database]\nulr = "x"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    text = str(err.value)
    assert str(path) in text and "database.ulr" in text and "url" in text


def test_unknown_section(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[databse]\n")
    with pytest.raises(ConfigError, match=r"\[database\]"):
        load_config(path, {})


@pytest.mark.parametrize(("body", "key", "hint"), [
    ('[database]\nurl = "mysql://x"\n', "database.url", "postgresql+psycopg"),
    ("[database]\nsqlite_busy_timeout_ms = -5\n", "database.sqlite_busy_timeout_ms", "whole number"),
    ('[logging]\nlevel = "LOUD"\n', "logging.level", "DEBUG"),
    ('[paths]\ndata_dir = "relative/dir"\n', "paths.data_dir", "absolute"),
])
def test_bad_values_name_value_and_accepted_form(tmp_path: Path, body: str, key: str, hint: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    assert key in str(err.value) and hint in str(err.value)


def test_bad_env_value_names_variable() -> None:
    with pytest.raises(ConfigError, match=r"\$DSM_LOGGING_LEVEL"):
        load_config(None, {"DSM_LOGGING_LEVEL": "chatty", "DSM_HOME": "/tmp"})


def test_broken_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[database\n")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_config(path, {})


def test_example_documents_every_key_at_its_default() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    documented = {f"{s}.{k}": v for s, body in example.items() for k, v in body.items()}
    assert documented == {k.dotted: k.default for k in KEYS}
    load_config(ROOT / "config.example.toml", {})  # and it loads
