"""`ecli list`: installed packages, and the newer versions the cached index knows."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result, Text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "examples:\n  ecli list\n  ecli list --outdated\n  ecli list --json"
    parser.add_argument("--outdated", action="store_true",
                        help="only packages with a newer version available")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages import state
    from ecli.packages.install import available_upgrade

    rows = []
    for record in state.read(ctx.paths).values():
        newer = available_upgrade(record, ctx.paths)
        if args.outdated and not newer:
            continue
        rows.append((record, newer))
    result = Result(data=[{"name": r.name, "version": r.version, "kind": r.kind,
                           "digest": r.digest, "source": r.source, "requested": r.requested,
                           "installed_at": r.installed_at, "newer": newer}
                          for r, newer in rows], quiet=[Text(r.name) for r, _ in rows])
    if rows:
        result.table(["NAME", "VERSION", "KIND", "SOURCE", "NEWER", "INSTALLED"],
                     [(r.name, r.version, r.kind, r.source, newer or "", r.installed_at)
                      for r, newer in rows])
    else:
        result.quiet = []
        result.line("nothing installed" if not args.outdated else "everything is up to date")
    return result
