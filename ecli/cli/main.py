"""Entry point: parse global flags, import only the chosen command, map errors.

Commands are registered by name and module path and imported only when run,
so `ecli --help` and `ecli search` stay fast (no registry or HTTP libraries).
Each command returns a `Result`; `ecli.cli.render.show` prints it. Every
EcliError becomes one line on stderr and its exit code, here and only here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ecli import __version__
from ecli.errors import EcliError

# name -> (module under ecli.cli.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "pull if needed, then run a package, an OCI reference or a .bpf.o"),
    "pull": ("pull", "download a package or OCI reference into the local store"),
    "search": ("search", "search the packages of the configured sources"),
    "info": ("info", "show a package's description, versions and requirements"),
    "inspect": ("inspect", "show what a package's eBPF objects can do (permissions, helpers)"),
    "update": ("update", "refresh the JSON index of every source"),
    "sources": ("sources", "list, add or remove JSON index sources"),
    "build": ("build", "build the project in a folder into an OCI artifact"),
    "init": ("init", "start a new project from a template (--list shows them)"),
    "push": ("push", "push a built artifact to an OCI registry"),
    "publish": ("publish", "add a version to a checkout of the hub's index, on a new branch"),
    "ps": ("ps", "list the detached runs (ecli run --detach) still running"),
    "stop": ("stop", "stop detached runs by ID or NAME, or --all"),
    "logs": ("logs", "show the output of a detached run; -f follows it"),
    "doctor": ("doctor", "check what this kernel supports, and whether a package can run"),
    "install": ("install", "pull, verify and record packages as installed"),
    "uninstall": ("uninstall", "forget installed packages"),
    "upgrade": ("upgrade", "move installed packages to their newest allowed version"),
    "list": ("list", "show installed packages and newer versions available"),
    "sign": ("sign", "sign an artifact in its registry, cosign-compatible (or make a key)"),
    "verify": ("verify", "check that an artifact is signed by a key (cosign-compatible)"),
    "login": ("login", "store credentials for an OCI registry"),
    "logout": ("logout", "remove stored credentials for an OCI registry"),
    "mirrors": ("mirrors", "list, add or remove registry mirrors"),
    "policy": ("policy", "show or set what may run: allowed references, permission cap, pulling"),
    "save": ("save", "write packages to an OCI image-layout archive (for air-gapped use)"),
    "load": ("load", "load an archive from ecli save: packages into the store, their index "
             "entries as a source"),
    "cache": ("cache", "show or prune the local cache"),
    "completion": ("completion", "print a shell completion script (bash, zsh, fish)"),
    "manual": ("manual", "print the manual page, for `man ecli`"),
}

EPILOG = """examples:
  ecli run opensnoop                  run a package from the hub
  ecli run opensnoop -h               list the package's own options
  ecli run ./opensnoop.bpf.o          run a local CO-RE object
  ecli search open                    find packages
  ecli install opensnoop@^0.1         install; then `ecli list`, `ecli upgrade --all`
  ecli sources add local http://127.0.0.1:8000/api/v1/

Every command has --help with examples. Output has no colour when it is not
a terminal or NO_COLOR is set. Files live under XDG folders, or ECLI_HOME.
"""


INTERNAL_ERROR = 70  # EX_SOFTWARE


def build_parser(selected: str | None, *, with_arguments: bool = False
                 ) -> argparse.ArgumentParser:
    """The parser of `selected` alone (a normal command), or of every command: their
    names only, or with all their arguments for the completion scripts and manual."""
    parser = argparse.ArgumentParser(
        prog="ecli",
        description="Find, pull and run eBPF programs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ecli {__version__}")
    _add_global_flags(parser, default_verbose=0, default_quiet=False)
    # The same flags after the command (`ecli ps -q`, as docker takes them); there they
    # default to "not given", so a flag before the command is not undone by the sub-parser.
    global_flags = argparse.ArgumentParser(add_help=False)
    _add_global_flags(global_flags, default_verbose=argparse.SUPPRESS,
                      default_quiet=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # With a command chosen, only its parser is built: each costs start-up time.
    chosen = {selected: COMMANDS[selected]} if selected else COMMANDS
    for name, (module_name, summary) in chosen.items():
        command_parser = sub.add_parser(
            name, help=summary, description=summary[0].upper() + summary[1:] + ".",
            formatter_class=argparse.RawDescriptionHelpFormatter, parents=[global_flags],
        )
        if name == selected or with_arguments:
            module = importlib.import_module(f"ecli.cli.commands.{module_name}")
            module.add_arguments(command_parser)
            command_parser.set_defaults(handler=module.run)
    return parser


def _add_global_flags(parser: argparse.ArgumentParser, *, default_verbose: object,
                      default_quiet: object) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=default_verbose,
                        help="say more (repeat for more)")
    parser.add_argument("-q", "--quiet", action="store_true", default=default_quiet,
                        help="say only what is asked (for listings: names or IDs only)")


def _first_word(argv: Sequence[str]) -> str | None:
    """The command word: the first argument that is not a flag."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _unknown_command(word: str) -> int:
    """argparse would list all 29 commands; say which one was probably meant."""
    from ecli.cli.render import show_error
    from ecli.errors import UsageError
    from ecli.suggest import did_you_mean

    hint = did_you_mean(word, COMMANDS) or "'ecli --help' lists the commands"
    show_error(UsageError(f"{word!r} is not an ecli command", hint=hint),
               verbose=0, as_json=False)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    from ecli.cli.context import Context
    from ecli.paths import Paths

    argv = list(sys.argv[1:] if argv is None else argv)
    word = _first_word(argv)
    if word is not None and word not in COMMANDS:
        return _unknown_command(word)
    parser = build_parser(word)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    context = Context(paths=Paths.from_environment(), verbose=args.verbose, quiet=args.quiet)
    as_json = bool(getattr(args, "json", False))
    try:
        from ecli.cli import render

        result = args.handler(args, context)
        return render.show(result, as_json=as_json, quiet=context.quiet)
    except EcliError as error:
        from ecli.cli.render import show_error

        show_error(error, verbose=context.verbose, as_json=as_json)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # a bug in ecli, not the user's mistake: say so plainly
        if context.verbose:
            raise
        from ecli.cli.render import show_internal_error

        show_internal_error(error)
        return INTERNAL_ERROR
