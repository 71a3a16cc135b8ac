"""`ecli uninstall NAME...`: forget installed packages; `ecli cache prune` frees the bytes."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  ecli uninstall opensnoop\n"
                     "  ecli uninstall a b && ecli cache prune")
    parser.add_argument("names", nargs="+", metavar="NAME", help="installed package names")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.packages.install import uninstall

    for name in args.names:
        change = uninstall(name, ctx.paths)
        if not ctx.quiet:
            print(f"uninstalled {change.name} {change.old}")
    return 0
