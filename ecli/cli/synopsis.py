"""Every command's flags and actions, read off the parser that `ecli` itself uses.

The completion scripts and the manual page are written from this tree, so
they can never list a flag the parser does not take, nor miss one it does
(as shtab and argparse-manpage do, argparse's actions are read directly). It
imports every command module: only `ecli completion` and `ecli manual` pay
for that, never a normal command.
"""

from __future__ import annotations

import argparse
from typing import NamedTuple


class Option(NamedTuple):
    flags: tuple[str, ...]  # "--duration", "-T"
    help: str
    metavar: str | None  # None: a switch that takes no value
    choices: tuple[str, ...]


class Command(NamedTuple):
    name: str  # "sources add" for an action
    summary: str
    usage: str
    options: tuple[Option, ...]
    actions: tuple[Command, ...]
    epilog: str


def commands() -> list[Command]:
    """Every command of `ecli`, in name order, with its actions."""
    from ecli.cli.main import COMMANDS, build_parser

    parser = build_parser(None, with_arguments=True)
    chosen = _subparsers(parser)
    return [_command(name, COMMANDS[name][1], chosen[name]) for name in sorted(COMMANDS)]


def global_options() -> tuple[Option, ...]:
    from ecli.cli.main import build_parser

    return _options(build_parser(None, with_arguments=False))


def _command(name: str, summary: str, parser: argparse.ArgumentParser) -> Command:
    helps = {a.dest: a.help or "" for action in parser._actions
             if isinstance(action, argparse._SubParsersAction) for a in action._choices_actions}
    actions = tuple(_command(f"{name} {action}", helps.get(action, ""), sub)
                    for action, sub in _subparsers(parser).items())
    return Command(name, summary, parser.format_usage().removeprefix("usage: ").strip(),
                   _options(parser), actions, parser.epilog or "")


def _options(parser: argparse.ArgumentParser) -> tuple[Option, ...]:
    return tuple(
        Option(tuple(action.option_strings), action.help or "",
               None if action.nargs == 0 else _metavar(action),
               tuple(str(c) for c in action.choices or ()))
        for action in parser._actions
        if action.option_strings and action.help != argparse.SUPPRESS)


def _metavar(action: argparse.Action) -> str:
    if isinstance(action.metavar, tuple):
        return " ".join(action.metavar)
    return action.metavar or action.dest.upper()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}
