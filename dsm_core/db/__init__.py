"""Database access: engine and session factory, migrations, portable types."""

from dsm_core.db.engine import engine_from_config, make_engine, read_scope, session_scope

__all__ = ["engine_from_config", "make_engine", "read_scope", "session_scope"]
