"""`ecli upgrade [NAME...|--all]`: move installed packages to their newest allowed version."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result
from ecli.errors import EcliError, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  ecli upgrade opensnoop\n  ecli upgrade --all --json\n\n"
                     "A package installed as NAME@RANGE stays in its range; one pinned to an\n"
                     "exact version stays there. Sources are refreshed first (`ecli update`).")
    parser.add_argument("names", nargs="*", metavar="NAME", help="installed packages")
    parser.add_argument("--all", action="store_true", help="upgrade every installed package")
    parser.add_argument("--no-update", action="store_true",
                        help="use the cached indexes as they are")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.cli.progress import status, warn
    from ecli.packages import state
    from ecli.packages.index_client import IndexClient
    from ecli.packages.install import upgrade

    if bool(args.names) == args.all:
        raise UsageError("name the packages to upgrade, or give --all (not both)")
    if not args.no_update:
        client = IndexClient(ctx.paths)
        for source in client.sources:
            try:
                result = client.update_or_cached(source)
            except EcliError as exc:  # an unreachable source must not block the others
                warn(f"{source.name}: {exc.message}")
                continue
            if result.offline_error:
                warn(f"{source.name}: {result.offline_error}; using the cached index")
    changes, warnings = upgrade(args.names, ctx.paths, None if ctx.quiet else status)
    result = Result(data=[{"name": c.name, "from": c.old, "to": c.new, "digest": c.digest,
                           "note": c.note} for c in changes], quiet=[], warnings=warnings)
    for c in changes:
        result.line(f"{c.name}: {c.note}" if c.note else f"{c.name}: {c.old} -> {c.new}")
    if changes and all(c.old == c.new for c in changes):
        sources = sorted({r.source for r in state.read(ctx.paths).values()
                          if r.name in {c.name for c in changes}})
        result.line(f"checked {len(changes)} installed package(s) against "
                    f"{', '.join(sources)}: nothing to upgrade")
    return result
