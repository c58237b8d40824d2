"""DSM as a user installs it, not as the checkout runs it: the built wheel holds every file DSM reads at run time,
and `pip install .` into a fresh virtual environment (the checkout nowhere on sys.path) gives a console that
paints and quits cleanly; the same install without its stylesheet refuses to start in one line, non-zero, and
`dsm doctor` says why. The README's "Try the CLI" block runs against that install."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.docblocks import walk
from tests.integration.wheelhouse import REPO, WHEELS, dsm_wheel, offline_env, source_copy
from tests.tui.terminal import Terminal

pytestmark = pytest.mark.timeout(600)
PACKAGES = ("dsm_core", "dsm_cli", "dsm_worker", "dsm_tui", "dsm_sim")


def test_the_wheel_holds_every_file_the_packages_read(tmp_path: Path) -> None:
    tracked = subprocess.run(["git", "ls-files", *PACKAGES], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    assert "dsm_tui/app.tcss" in tracked
    names = set(zipfile.ZipFile(dsm_wheel(tmp_path / "dist")).namelist())
    missing = sorted(path for path in tracked if path not in names)
    assert missing == [], f"in the checkout, not in the wheel (pyproject.toml package-data): {missing}"


def open_console(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """The installed `dsm` on a pty to its first paint (the header: user, role, database), then `q`."""
    term = Terminal(argv, env, cols=220, rows=30)  # wide: the header shows a temporary directory's whole path
    try:
        term.wait_for("(admin)", timeout=60)
        screen = term.wait_for("sqlite:///", timeout=30)
        term.send("q")
        return term.wait_exit(30), screen
    finally:
        term.close()


def installed_env(venv: Path, home: Path) -> dict[str, str]:
    env = offline_env(home)
    env.update({"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "DSM_HOME": str(home / "dsm"), "NO_COLOR": "1"})
    return env


def test_pip_install_dot_gives_a_console_that_paints_and_one_without_its_stylesheet_refuses(tmp_path: Path) -> None:
    if not any(WHEELS.glob("*.whl")):
        pytest.fail(f"no dependency wheels in {WHEELS}: `make test` builds them (make .testbeds/wheels/.stamp)")
    tree = source_copy(tmp_path / "checkout")
    venv = tmp_path / "opt-dsm"
    env = installed_env(venv, tmp_path)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    # The README's `pip install .`, offline: the build backend and every dependency from the test wheels.
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-index", "--find-links", str(WHEELS),
                           str(tree)], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import dsm_tui, sys; print(dsm_tui.__file__); "
                            "print(sys.path)"], capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert str(venv) in where.stdout.splitlines()[0] and str(REPO) not in where.stdout, "not the checkout"
    dsm = str(venv / "bin" / "dsm")
    assert subprocess.run([dsm, "init"], env=env, capture_output=True, cwd=tmp_path).returncode == 0

    code, screen = open_console([dsm], env)
    assert code == 0, screen
    doctor = subprocess.run([dsm, "doctor", "-v"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert "ok      console: its stylesheet is installed and parses" in doctor.stdout, doctor.stdout

    # The README's "Try the CLI" block, as written, against this install.
    for block in walk("try-cli"):
        tried = subprocess.run(["bash", "-xeuo", "pipefail", "-c", block.text], env=env, capture_output=True,
                               text=True, cwd=tmp_path, timeout=300)
        assert tried.returncode == 0, f"{block.where()}:\n{tried.stdout}\n{tried.stderr}"

    # The wheel the old pyproject built: no stylesheet. The console refuses in one line, and says so in its status.
    stylesheet = next(venv.glob("lib/python*/site-packages/dsm_tui/app.tcss"))
    stylesheet.unlink()
    term = Terminal([dsm], env, cols=120, rows=30)
    try:
        code = term.wait_exit(60)
        shown = term.text()
    finally:
        term.close()
    assert code == 1, shown
    assert "cannot start the console" in shown and "app.tcss is missing" in shown, shown
    assert "Traceback" not in shown
    doctor = subprocess.run([dsm, "doctor"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert doctor.returncode == 1 and "error   console:" in doctor.stdout and "app.tcss" in doctor.stdout, doctor.stdout
