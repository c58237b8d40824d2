"""Stored JSON shown as highlighted JSON: activity calls, a server's raw Redfish data, audit entries."""

from __future__ import annotations

import json
from typing import Any

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.text import Text

from dsm_core.text import visible


def json_view(value: Any) -> RenderableType:
    if value is None:
        return Text("(none)", style="dim")
    # ensure_ascii: a string in a device's answer shows its escapes as \u001b, never as an escape
    text = visible(value) if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, default=str,
                                                                     ensure_ascii=True)
    return Syntax(text, "json", word_wrap=True, theme="ansi_dark", background_color="default")
