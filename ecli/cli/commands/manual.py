"""`ecli manual`: print the manual page (roff), made from the same parser as --help."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result, Text

EXAMPLES = """examples:
  ecli manual | man -l -                                   read it now
  mkdir -p ~/.local/share/man/man1
  ecli manual > ~/.local/share/man/man1/ecli.1             then: man ecli
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.cli import manpage, synopsis
    from ecli.cli.main import EPILOG, build_parser

    page = manpage.render(synopsis.commands(), synopsis.global_options(),
                          build_parser(None).description or "", EPILOG)
    return Result([Text(page.removesuffix("\n"), multiline=True)])
