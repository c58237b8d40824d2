"""DSM core: configuration, data model, credentials and the service layer shared by the TUI, CLI and worker."""

__version__ = "0.1.0"
