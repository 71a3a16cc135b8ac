"""The manual page, `man ecli`, in roff, written from the parser (ecli.cli.synopsis).

One page for the whole tool, as git's and docker's single-page references
are read: the global options, then every command with its usage, options
and examples, then the environment and files. No date in the header, so the
same ecli prints the same page (reproducible packaging).
"""

from __future__ import annotations

from ecli import __version__
from ecli.cli.synopsis import Command, Option

ENVIRONMENT = (
    ("ECLI_HOME", "one folder for all of ecli's files, instead of the XDG folders"),
    ("NO_COLOR", "no colour in the output, even on a terminal"),
    ("ECLI_HTTP_TIMEOUT", "overall deadline of each network read, in seconds (default 300)"),
    ("DOCKER_CONFIG", "where docker's config.json is read for registry credentials"),
    ("REGISTRY_AUTH_FILE", "podman's and skopeo's auth.json, read after docker's"),
    ("HTTPS_PROXY, HTTP_PROXY, NO_PROXY", "proxies, as curl reads them"),
)


def render(commands: list[Command], global_options: tuple[Option, ...], description: str,
           epilog: str) -> str:
    name = description[:1].lower() + description[1:].rstrip(".")
    lines = [f'.TH ECLI 1 "" "ecli {__version__}" "User Commands"',
             ".SH NAME", r"ecli \- " + _escape(name),
             ".SH SYNOPSIS", r".B ecli", r"[\fIOPTIONS\fR] \fICOMMAND\fR [\fIARGS\fR]",
             ".SH OPTIONS", *_options(global_options),
             ".SH COMMANDS"]
    for command in commands:
        lines += _command(command)
        for action in command.actions:
            lines += _command(action)
    lines += [".SH EXAMPLES", *_literal(epilog.removeprefix("examples:\n"))]
    lines += [".SH ENVIRONMENT"]
    for name, text in ENVIRONMENT:
        lines += [".TP", rf"\fB{_escape(name)}\fR", _escape(text)]
    lines += [".SH SEE ALSO", r"\fBecli\fR \fICOMMAND\fR \fB\-\-help\fR; docs/user-guide.md"]
    return "\n".join(lines) + "\n"


def _command(command: Command) -> list[str]:
    lines = [f'.SS "ecli {_escape(command.name)}"', _escape(command.summary) + ".",
             ".PP", *_literal(command.usage)]
    own = [o for o in command.options if not set(o.flags) & {"-h", "-v", "-q"}]
    lines += _options(tuple(own))
    if command.epilog:
        lines += [".PP", *_literal(command.epilog)]
    return lines


def _options(options: tuple[Option, ...]) -> list[str]:
    lines = []
    for option in options:
        flags = ", ".join(rf"\fB{_escape(flag)}\fR" for flag in option.flags)
        value = rf" \fI{_escape(option.metavar)}\fR" if option.metavar else ""
        text = option.help + (f" (one of: {', '.join(option.choices)})"
                              if option.choices and "," not in option.help else "")
        lines += [".TP", flags + value, _escape(text)]
    return lines


def _literal(text: str) -> list[str]:
    return [".nf", ".RS 4", *(_escape(line) for line in text.rstrip("\n").split("\n")),
            ".RE", ".fi"]


def _escape(text: str) -> str:
    """Backslashes and dashes made literal; a line starting with . or ' is not a request."""
    text = text.replace("\\", r"\e").replace("-", r"\-")
    return "\\&" + text if text.startswith((".", "'")) else text
