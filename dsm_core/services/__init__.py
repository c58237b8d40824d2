"""Use cases shared by the TUI and the CLI: each checks the caller's role, validates, and audits mutations."""
