"""`ecli completion bash|zsh|fish`: print a shell completion script.

The scripts are written from the parser itself (ecli.cli.synopsis): commands,
each command's and action's own flags with their help, the values of flags
that take a fixed set, and, for commands that take a package, the names in
the cached catalogs and the installed packages, which they ask for with
`ecli completion --names` (reads only the cache: instant, offline).
"""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result, Text
from ecli.cli.synopsis import Command, Option

PACKAGE_COMMANDS = ("run", "pull", "info", "inspect", "install", "uninstall", "upgrade", "save")

BASH = """# ecli completion for bash: eval "$(ecli completion bash)"
_ecli_flags() {
    case "$1" in
__FLAGS__
    esac
}
_ecli_actions() {
    case "$1" in
__ACTIONS__
    esac
}
_ecli_values() {
    case "$1" in
__VALUES__
    esac
}
_ecli() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local cmd="" action="" word i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        case "$word" in -*) continue;; esac
        if [ -z "$cmd" ]; then cmd="$word"
        elif [ -z "$action" ] && [ -n "$(_ecli_actions "$cmd")" ]; then action="$word"; fi
    done
    if [ -z "$cmd" ]; then
        COMPREPLY=($(compgen -W "__COMMANDS__ __GLOBAL__" -- "$cur"))
        return
    fi
    local full="$cmd${action:+ $action}" values
    values="$(_ecli_values "$full $prev")"
    if [ -n "$values" ]; then
        COMPREPLY=($(compgen -W "$values" -- "$cur"))
    elif [ "${cur#-}" != "$cur" ]; then
        COMPREPLY=($(compgen -W "$(_ecli_flags "$full")" -- "$cur"))
    elif [ -z "$action" ] && [ -n "$(_ecli_actions "$cmd")" ]; then
        COMPREPLY=($(compgen -W "$(_ecli_actions "$cmd")" -- "$cur"))
    else
        case "$cmd" in
            __PACKAGE_COMMANDS__)
                COMPREPLY=($(compgen -W "$(ecli completion --names 2>/dev/null)" -- "$cur"))
                [ "${cur#./}" != "$cur" ] || [ "${cur#/}" != "$cur" ] && \\
                    COMPREPLY=($(compgen -f -- "$cur"));;
            *) COMPREPLY=($(compgen -f -- "$cur"));;
        esac
    fi
}
complete -o default -F _ecli ecli
"""

ZSH = """#compdef ecli
# ecli completion for zsh: ecli completion zsh > "${fpath[1]}/_ecli"
_ecli() {
    local -a commands flags actions
    local cmd="" action="" word i
    commands=(__COMMANDS__)
    for (( i = 2; i < CURRENT; i++ )); do
        word=$words[i]
        [[ $word == -* ]] && continue
        if [[ -z $cmd ]]; then cmd=$word
        elif [[ -z $action ]]; then action=$word; fi
    done
    if [[ -z $cmd ]]; then
        if [[ $PREFIX == -* ]]; then
            flags=(__GLOBAL__)
            _describe 'option' flags
        else
            _describe 'command' commands
        fi
        return
    fi
    case "$cmd" in
__ACTIONS__
    esac
    (( $#actions )) || action=""
    case "$cmd${action:+ $action} $words[CURRENT-1]" in
__VALUES__
    esac
    case "$cmd${action:+ $action}" in
__FLAGS__
    esac
    if [[ $PREFIX == -* ]]; then
        _describe 'option' flags
    elif [[ -z $action ]] && (( $#actions )); then
        _describe 'action' actions
    else
        case "$cmd" in
            __PACKAGE_COMMANDS__)
                compadd -- ${(f)"$(ecli completion --names 2>/dev/null)"}; _files;;
            *) _files;;
        esac
    fi
}
compdef _ecli ecli
"""

FISH = """# ecli completion for fish: ecli completion fish > ~/.config/fish/completions/ecli.fish
function __ecli_words --description 'the words typed after ecli that are not flags'
    for word in (commandline -opc)[2..-1]
        string match -q -- '-*' $word; or echo $word
    end
end
function __ecli_at --description 'true when the command (and action) typed are these'
    set -l words (__ecli_words)
    test (count $words) -ge (count $argv); or return 1
    for i in (seq (count $argv))
        test "$words[$i]" = "$argv[$i]"; or return 1
    end
end
complete -c ecli -f
__LINES__
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ('examples:\n  eval "$(ecli completion bash)"\n'
                     '  ecli completion zsh > "${fpath[1]}/_ecli"\n'
                     "  ecli completion fish > ~/.config/fish/completions/ecli.fish")
    parser.add_argument("shell", nargs="?", choices=("bash", "zsh", "fish"))
    parser.add_argument("--names", action="store_true", help=argparse.SUPPRESS)


def script(shell: str) -> str:
    from ecli.cli import synopsis

    commands = synopsis.commands()
    every = [c for command in commands for c in (command, *command.actions)]
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](
        commands, every, synopsis.global_options())


def _flags(options: tuple[Option, ...]) -> list[str]:
    return [flag for option in options for flag in option.flags]


def _bash(commands: list[Command], every: list[Command], global_: tuple[Option, ...]) -> str:
    flags = "\n".join(f'        "{c.name}") echo "{" ".join(_flags(c.options))}";;'
                      for c in every)
    actions = "\n".join(
        f'        "{c.name}") echo "{" ".join(_action_word(a) for a in c.actions)}";;'
        for c in commands if c.actions)
    values = "\n".join(f'        "{c.name} {flag}") echo "{" ".join(o.choices)}";;'
                       for c in every for o in c.options if o.choices for flag in o.flags)
    return (BASH.replace("__FLAGS__", flags).replace("__ACTIONS__", actions)
            .replace("__VALUES__", values)
            .replace("__COMMANDS__", " ".join(c.name for c in commands))
            .replace("__GLOBAL__", " ".join(_flags(global_)))
            .replace("__PACKAGE_COMMANDS__", "|".join(PACKAGE_COMMANDS)))


def _zsh(commands: list[Command], every: list[Command], global_: tuple[Option, ...]) -> str:
    def described(name: str, text: str) -> str:
        return _zsh_quote(f"{name}:{text}")

    def option_items(options: tuple[Option, ...]) -> str:
        return " ".join(described(flag, o.help) for o in options for flag in o.flags)

    flags = "\n".join(f'        "{c.name}") flags=({option_items(c.options)});;' for c in every)
    actions = "\n".join(
        f'        "{c.name}") actions=('
        + " ".join(described(_action_word(a), a.summary) for a in c.actions) + ");;"
        for c in commands if c.actions)
    values = "\n".join(f'        "{c.name} {flag}") compadd -- {" ".join(o.choices)}; return;;'
                       for c in every for o in c.options if o.choices for flag in o.flags)
    return (ZSH.replace("__FLAGS__", flags).replace("__ACTIONS__", actions)
            .replace("__VALUES__", values or '        "") ;;')
            .replace("__COMMANDS__", " ".join(described(c.name, c.summary) for c in commands))
            .replace("__GLOBAL__", option_items(global_))
            .replace("__PACKAGE_COMMANDS__", "|".join(PACKAGE_COMMANDS)))


def _fish(commands: list[Command], every: list[Command], global_: tuple[Option, ...]) -> str:
    lines = [f"complete -c ecli -n 'test (count (__ecli_words)) -eq 0' -a {c.name} "
             f"-d {_fish_quote(c.summary)}" for c in commands]
    lines += [f"complete -c ecli -n 'test (count (__ecli_words)) -eq 0' {_fish_option(o)}"
              for o in global_]
    for command in every:
        at = _fish_quote(f"__ecli_at {command.name}")
        lines += [f"complete -c ecli -n {at} {_fish_option(o)}" for o in command.options]
        if command.actions:
            alone = _fish_quote(f"__ecli_at {command.name}; and test (count (__ecli_words)) "
                                f"-eq {len(command.name.split())}")
            lines += [f"complete -c ecli -n {alone} -a {_action_word(a)} "
                      f"-d {_fish_quote(a.summary)}" for a in command.actions]
    for name in PACKAGE_COMMANDS:
        lines.append(f"complete -c ecli -n '__ecli_at {name}' "
                     "-a '(ecli completion --names 2>/dev/null)' -F")
    lines.append("complete -c ecli -n '__ecli_at completion' -a 'bash zsh fish'")
    return FISH.replace("__LINES__", "\n".join(lines))


def _fish_option(option: Option) -> str:
    parts = []
    for flag in option.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    if option.choices:
        parts.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
    elif option.metavar is not None:
        parts.append("-r")
    return " ".join(parts) + f" -d {_fish_quote(option.help)}"


def _action_word(action: Command) -> str:
    return action.name.rsplit(" ", 1)[-1]


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


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
