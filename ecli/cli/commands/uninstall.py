"""`ecli uninstall NAME...`: forget installed packages; `ecli cache prune` frees the bytes."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  ecli uninstall opensnoop\n"
                     "  ecli uninstall a b && ecli cache prune")
    parser.add_argument("names", nargs="+", metavar="NAME", help="installed package names")
    parser.add_argument("--json", action="store_true", help="print what was removed as JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages.install import uninstall

    changes = [uninstall(name, ctx.paths) for name in args.names]
    result = Result(data=[{"name": c.name, "version": c.old, "digest": c.digest}
                          for c in changes], quiet=[])
    for change in changes:
        result.line(f"uninstalled {change.name} {change.old}")
    return result
