"""Shell completion: `dsm completion bash|zsh` prints a script; the script asks `dsm __complete` for the words.

The words come from the same argparse parser the command uses (subcommands, options, choices — so completion can
never offer a command that does not exist) and, for references, from the database through the service layer as
the user running the shell (a viewer's role is enough; a non-DSM user gets no database words). Completion must
never print an error into the middle of a command line: any failure yields no words.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

BASH = r"""# dsm bash completion: eval "$(dsm completion bash)" (e.g. in ~/.bashrc), or save it under
# /etc/bash_completion.d/dsm
_dsm_complete() {
    # Words are data: read whole lines (no word splitting, no globbing), and put each on the command line quoted,
    # so a stored name such as 'prod$(touch x)' is inserted as text and never runs when the line is.
    local word quoted
    local -a found
    mapfile -t found < <(dsm __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
    COMPREPLY=()
    for word in "${found[@]}"; do
        [[ -n $word ]] || continue
        printf -v quoted '%q' "$word"
        COMPREPLY+=("$quoted")
    done
}
complete -o default -o nosort -F _dsm_complete dsm
"""

ZSH = r"""#compdef dsm
# dsm zsh completion: eval "$(dsm completion zsh)" after compinit, or save it as _dsm in a $fpath directory
_dsm() {
    local -a words_found
    words_found=("${(@f)$(dsm __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    # (q): each word shell-quoted before it is inserted (-Q: as quoted here), so a stored name is never code.
    compadd -Q -V dsm -- "${(@q)words_found:#}"
}
if (( $+functions[compdef] )); then compdef _dsm dsm; fi
"""

# Positionals and options whose values are references the database knows, by (first command, dest).
REFERENCE_DESTS: dict[str, str] = {"ref": "servers", "refs": "servers", "server": "servers", "group": "groups",
                                   "cluster": "clusters", "credential_set": "credential_sets"}
BY_COMMAND: dict[tuple[str, str], str] = {
    ("jobs", "id"): "jobs", ("windows", "id"): "windows", ("groups", "name"): "groups",
    ("credentials", "name"): "credential_sets", ("users", "name"): "users", ("vcenter", "name"): "vcenters",
    ("clusters", "name"): "clusters", ("safety", "name"): "clusters",
}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    for action in parser._actions:
        if flag in action.option_strings:
            return action
    return None


def words(parser: argparse.ArgumentParser, typed: Sequence[str],
          lookup: Callable[[str, str], list[str]]) -> list[str]:
    """What may come next after ``typed[:-1]``, starting with ``typed[-1]`` (the word being completed)."""
    before, current = list(typed[:-1]), (typed[-1] if typed else "")
    path: list[str] = []
    node = parser
    positionals_done = 0
    expecting: argparse.Action | None = None
    for word in before:
        if expecting is not None:
            expecting = None
            continue
        if word.startswith("-"):
            action = _option(node, word.split("=", 1)[0])
            if action is not None and action.nargs != 0 and "=" not in word:
                expecting = action
            continue
        children = _subparsers(node)
        if word in children:
            node, path = children[word], [*path, word]
            positionals_done = 0
        else:
            positionals_done += 1
    if expecting is not None:
        return _values(expecting, path, current, lookup)
    if current.startswith("-"):
        flags = [f for a in node._actions for f in a.option_strings if f.startswith("--") or len(f) == 2]
        return sorted(f for f in set(flags) if f.startswith(current))
    children = _subparsers(node)
    if children:
        return sorted(name for name in children if name.startswith(current) and not name.startswith("_"))
    positionals = [a for a in node._actions if not a.option_strings and a.nargs != argparse.SUPPRESS]
    if not positionals:
        return []
    action = positionals[min(positionals_done, len(positionals) - 1)]
    return _values(action, path, current, lookup)


def _values(action: argparse.Action, path: list[str], current: str,
            lookup: Callable[[str, str], list[str]]) -> list[str]:
    if action.choices is not None:
        return [str(c) for c in action.choices if str(c).startswith(current)]
    kind = BY_COMMAND.get((path[0] if path else "", action.dest)) or REFERENCE_DESTS.get(action.dest)
    if kind is None:
        return []
    return lookup(kind, current)


def database_lookup() -> Callable[[str, str], list[str]]:
    """References from the database, as the OS user running the shell; nothing at all when that fails."""

    def lookup(kind: str, prefix: str) -> list[str]:
        try:
            from dsm_cli.main import os_username
            from dsm_core.config import load_config
            from dsm_core.db import engine_from_config
            from dsm_core.services.context import ServiceContext, actor_for
            from dsm_core.services.views import completions

            config = load_config(os.environ.get("DSM_CONFIG") or None)
            if config.sqlite_path is not None and not config.sqlite_path.exists():
                return []
            engine = engine_from_config(config)
            try:
                return completions(ServiceContext(engine, actor_for(engine, os_username())), kind, prefix)
            finally:
                engine.dispose()
        except Exception:  # completion never breaks a command line: no words is the answer to any failure
            return []

    return lookup


def main(typed: Sequence[str]) -> int:
    from dsm_cli.main import build_parser

    for word in words(build_parser(), typed, database_lookup()):
        if "\n" not in word:
            sys.stdout.write(word + "\n")
    return 0


def script(shell: str) -> str:
    return {"bash": BASH, "zsh": ZSH}[shell]
