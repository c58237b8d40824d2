"""Shell completion run by the real shells: the script `dsm completion bash|zsh` prints is loaded into bash and
zsh, their completion function is called with the words typed, and the candidates come back from the installed
`dsm` — commands and options from the parser, view names, and server references and job ids from the database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dsm_cli.main import os_username
from dsm_core.db import make_engine
from dsm_core.services import jobs, servers
from dsm_core.services.context import ServiceContext, actor_for
from tests.integration.cli import DsmHome

pytestmark = pytest.mark.timeout(120)
SHELLS = ("bash", "zsh")
_SCRIPTS: dict[str, str] = {}


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> tuple[DsmHome, str]:
    home = DsmHome(tmp_path_factory.mktemp("completion") / "home", None, {})
    home.run("init", check=True)
    engine = make_engine(f"sqlite:///{home.home / 'dsm.db'}")
    ctx = ServiceContext(engine, actor_for(engine, os_username()))
    for n in (1, 2):
        servers.add_server(ctx, f"127.0.10.{n}:8443", hostname=f"r750-0{n}", service_tag=f"TAG000{n}")
    servers.add_server(ctx, "127.0.10.3:8443", hostname="esx-03")
    job = jobs.create_job(ctx, "health_check", servers=["r750-01"])
    engine.dispose()
    return home, str(job["id"])


def _complete(shell: str, home: DsmHome, *typed: str) -> list[str]:
    """Load the script into the shell, set the words as the shell would, call the completion function."""
    if shutil.which(shell) is None:
        pytest.fail(f"{shell} is not installed; .ci/run installs it (apt-get install {shell})")
    if shell not in _SCRIPTS:
        _SCRIPTS[shell] = subprocess.run([sys.executable, "-m", "dsm_cli.main", "completion", shell],
                                         capture_output=True, text=True, env=home.env(), check=True).stdout
    script = _SCRIPTS[shell]
    words = " ".join(f"'{w}'" for w in ("dsm", *typed))
    if shell == "bash":
        program = (f"{script}\nCOMP_WORDS=({words}); COMP_CWORD={len(typed)}; _dsm_complete; "
                   "printf '%s\\n' \"${COMPREPLY[@]}\"")
        argv = ["bash", "--norc", "--noprofile", "-c", program]
    else:
        # compadd is zsh's builtin for offering words; outside a completion widget it is replaced by one that
        # prints them, and `words`/CURRENT are set as the completion system sets them.
        program = (f"compadd() {{ while [[ $1 != -- ]]; do shift; done; shift; print -rl -- \"$@\"; }}\n{script}\n"
                   f"words=({words}); CURRENT={len(typed) + 1}; _dsm")
        argv = ["zsh", "-f", "-c", program]
    env = {**home.env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.parametrize("shell", SHELLS)
def test_commands_options_views_server_references_and_job_ids_complete(install: tuple[DsmHome, str],
                                                                        shell: str) -> None:
    home, job_id = install
    assert _complete(shell, home, "wi") == ["windows"]
    assert _complete(shell, home, "jobs", "list", "--st") == ["--status"]
    assert _complete(shell, home, "--view", "c") == ["clusters", "calendar", "credentials"]
    assert _complete(shell, home, "servers", "show", "r75") == ["r750-01", "r750-02"]
    assert _complete(shell, home, "jobs", "show", job_id[:8]) == [job_id]


def test_more_database_words_and_nothing_for_what_is_not_there(install: tuple[DsmHome, str]) -> None:
    home, _ = install
    assert "completion" in _complete("bash", home, "")
    assert _complete("bash", home, "completion", "") == ["bash", "zsh"]
    assert _complete("bash", home, "servers", "refresh", "r750-01", "TAG") == ["TAG0001", "TAG0002"]
    assert _complete("zsh", home, "jobs", "create", "health_check", "--server", "127.0.10.") == [
        "127.0.10.1", "127.0.10.2", "127.0.10.3"]
    assert _complete("bash", home, "servers", "show", "nothing-like-this") == []


@pytest.mark.parametrize("shell", SHELLS)
def test_a_stored_name_with_command_substitution_is_completed_as_text_and_runs_nothing(
        tmp_path: Path, shell: str) -> None:
    """A name an operator stored (a group) and one a device reported (an iDRAC's host name), each holding `$(…)`
    and backticks: completed in the real shell, put on a command line as the shell would insert it, and that line
    run: the name arrives as one argument, unchanged, and nothing in it ran."""
    import sqlalchemy as sa

    from dsm_core.services import groups

    marker = tmp_path / "ran"
    group_name = f"prod$(touch {marker})"
    host_name = f"esx`touch {marker}`"
    home = DsmHome(tmp_path / "home", None, {})
    home.run("init", check=True)
    engine = make_engine(f"sqlite:///{home.home / 'dsm.db'}")
    ctx = ServiceContext(engine, actor_for(engine, os_username()))
    groups.add_group(ctx, "prod-base")
    with engine.begin() as conn:  # stored as they came: a name from before any validation, and a device's
        conn.execute(sa.text("UPDATE server_groups SET name = :n WHERE name = 'prod-base'"), {"n": group_name})
    servers.add_server(ctx, "127.0.10.9:8443", hostname="esx-base")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE servers SET hostname = :n WHERE hostname = 'esx-base'"), {"n": host_name})
    engine.dispose()
    _SCRIPTS.pop(shell, None)
    for typed, name in ((("groups", "show", "pro"), group_name), (("servers", "show", "esx"), host_name)):
        found = _complete(shell, home, *typed)
        assert len(found) == 1, found
        inserted = found[0]
        # The line as the user runs it after <TAB>: `dsm` here only prints its last argument.
        line = f"dsm() {{ printf '%s\\n' \"${{@: -1}}\"; }}; dsm {typed[0]} {typed[1]} {inserted}" if shell == "bash" \
            else f"dsm() {{ print -r -- \"${{@[-1]}}\"; }}; dsm {typed[0]} {typed[1]} {inserted}"
        ran = subprocess.run([shell, "-c", line] if shell == "bash" else ["zsh", "-f", "-c", line],
                             capture_output=True, text=True, timeout=30, check=False)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == name, (inserted, ran.stdout)
        assert not marker.exists(), f"completing {typed} ran the name's command: {inserted}"
