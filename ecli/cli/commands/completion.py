"""`ecli completion bash|zsh|fish`: print a shell completion script.

The scripts complete commands and, for commands that take a package, the
names in the cached catalogs and the installed packages, which they ask for
with `ecli completion --names` (reads only the cache: instant, offline).
"""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result, Text

PACKAGE_COMMANDS = ("run", "pull", "info", "inspect", "install", "uninstall", "upgrade", "save")

BASH = """# ecli completion for bash: eval "$(ecli completion bash)"
_ecli() {
    local cur="${COMP_WORDS[COMP_CWORD]}" cmd="${COMP_WORDS[1]}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "__COMMANDS__ --help --version -q -v" -- "$cur"))
        return
    fi
    case "$cmd" in
        __PACKAGE_COMMANDS__)
            COMPREPLY=($(compgen -W "$(ecli completion --names 2>/dev/null)" -- "$cur"))
            [ "${cur#./}" != "$cur" ] || [ "${cur#/}" != "$cur" ] && \
                COMPREPLY=($(compgen -f -- "$cur"));;
        completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur"));;
        *) COMPREPLY=($(compgen -f -- "$cur"));;
    esac
}
complete -o default -F _ecli ecli
"""

ZSH = """#compdef ecli
# ecli completion for zsh: ecli completion zsh > "${fpath[1]}/_ecli"
_ecli() {
    local -a commands
    commands=(__ZSH_COMMANDS__)
    if (( CURRENT == 2 )); then
        _describe 'command' commands
        return
    fi
    case "$words[2]" in
        __PACKAGE_COMMANDS__) compadd -- ${(f)"$(ecli completion --names 2>/dev/null)"}; _files;;
        completion) compadd bash zsh fish;;
        *) _files;;
    esac
}
compdef _ecli ecli
"""

FISH = """# ecli completion for fish: ecli completion fish > ~/.config/fish/completions/ecli.fish
complete -c ecli -f
__FISH_COMMANDS__
complete -c ecli -n '__fish_seen_subcommand_from __PACKAGE_WORDS__' \\
    -a '(ecli completion --names 2>/dev/null)'
complete -c ecli -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ('examples:\n  eval "$(ecli completion bash)"\n'
                     '  ecli completion zsh > "${fpath[1]}/_ecli"\n'
                     "  ecli completion fish > ~/.config/fish/completions/ecli.fish")
    parser.add_argument("shell", nargs="?", choices=("bash", "zsh", "fish"))
    parser.add_argument("--names", action="store_true", help=argparse.SUPPRESS)


def script(shell: str) -> str:
    from ecli.cli.main import COMMANDS

    names = sorted(COMMANDS)
    if shell == "bash":
        return (BASH.replace("__COMMANDS__", " ".join(names))
                .replace("__PACKAGE_COMMANDS__", "|".join(PACKAGE_COMMANDS)))
    if shell == "zsh":
        described = " ".join(f"'{n}:{COMMANDS[n][1].replace(chr(39), '')}'" for n in names)
        return (ZSH.replace("__ZSH_COMMANDS__", described)
                .replace("__PACKAGE_COMMANDS__", "|".join(PACKAGE_COMMANDS)))
    lines = "\n".join(
        f"complete -c ecli -n '__fish_use_subcommand' -a {n} "
        f"-d '{COMMANDS[n][1].replace(chr(39), '')}'" for n in names)
    return (FISH.replace("__FISH_COMMANDS__", lines)
            .replace("__PACKAGE_WORDS__", " ".join(PACKAGE_COMMANDS)))


def names(ctx: Context) -> list[str]:
    """Package names from the cached catalogs and the state file; never the network."""
    import contextlib
    import json

    found = set()
    root = ctx.paths.index_cache_dir
    for catalog in root.glob("*/catalog.json") if root.is_dir() else []:
        try:
            found.update(p["name"] for p in json.loads(catalog.read_bytes())["packages"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        found.update(json.loads(ctx.paths.state_file.read_bytes())["packages"])
    return sorted(found)


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.errors import UsageError

    if args.names:  # names come from the indexes: each is made inert, one a line
        return Result([Text(name) for name in names(ctx)])
    if not args.shell:
        raise UsageError("name a shell: ecli completion bash|zsh|fish")
    return Result([Text(script(args.shell).removesuffix("\n"), multiline=True)])
