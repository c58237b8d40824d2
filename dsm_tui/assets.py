"""The console's files that are not Python: found and parsed before the console starts, and by `dsm doctor`.

A console whose stylesheet is missing (a wheel built without it) used to die inside Textual after the terminal
was taken, print a traceback and exit 0. Checking first lets `dsm` refuse in one line, with a non-zero exit, and
lets `dsm doctor` say the same on an install that has never opened the console.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
STYLESHEETS = ("app.tcss",)
"""Every stylesheet the console reads (DsmApp.CSS_PATH); pyproject.toml's package-data ships them."""


def problems(*, parse: bool = True) -> list[str]:
    """One line per asset that is missing, unreadable or (with ``parse``, as `dsm doctor` asks) does not parse;
    empty when the console can start. The console itself asks only whether they are there: Textual parses them
    anyway as it starts, and says so (and the exit status follows) if one does not parse."""
    out: list[str] = []
    for name in STYLESHEETS:
        path = PACKAGE_DIR / name
        if not path.is_file():
            out.append(f"the console's stylesheet {path} is missing from the installed package")
    if out or not parse:
        return out
    from textual.app import App
    from textual.css.errors import StylesheetError
    from textual.css.stylesheet import Stylesheet

    variables = App().get_css_variables()  # the theme's $variables the stylesheet refers to
    for name in STYLESHEETS:
        path = PACKAGE_DIR / name
        sheet = Stylesheet(variables=variables)
        try:
            sheet.read(path)
            sheet.parse()
        except StylesheetError as exc:
            out.append(f"the console's stylesheet {path} cannot be used: {str(exc).splitlines()[0]}")
        except OSError as exc:
            out.append(f"the console's stylesheet {path} cannot be read: {exc.strerror or exc}")
    return out


REINSTALL = "reinstall DSM from a complete wheel (`pip install --force-reinstall dsm-*.whl`; README, Install)"
