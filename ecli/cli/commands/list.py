"""`ecli list`: installed packages, and the newer versions the cached index knows."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ecli.cli.context import Context
from ecli.cli.render import Result, Text

if TYPE_CHECKING:
    from ecli.packages.install import Outlook
    from ecli.packages.state import Installed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "examples:\n  ecli list\n  ecli list --outdated\n  ecli list --json"
    parser.add_argument("--outdated", action="store_true",
                        help="only packages with a newer version available (also those "
                        "whose pin or range holds them back, marked)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages import state
    from ecli.packages.install import outlook

    rows = []
    for record in state.read(ctx.paths).values():
        seen = outlook(record, ctx.paths)
        if args.outdated and not seen.newest:
            continue
        rows.append((record, seen))
    result = Result(data=[{"name": r.name, "version": r.version, "kind": r.kind,
                           "digest": r.digest, "source": r.source, "requested": r.requested,
                           "installed_at": r.installed_at, "newer": seen.newer,
                           "newest": seen.newest, "pinned": seen.held}
                          for r, seen in rows], quiet=[Text(r.name) for r, _ in rows])
    if rows:
        result.table(["NAME", "VERSION", "KIND", "SOURCE", "NEWER", "INSTALLED"],
                     [(r.name, r.version, r.kind, r.source, _newer(r, seen), r.installed_at)
                      for r, seen in rows])
    else:
        result.quiet = []
        result.line("nothing installed" if not args.outdated else "everything is up to date")
    return result


def _newer(record: Installed, seen: Outlook) -> str:
    """The NEWER cell: what `upgrade` moves to, and a newer version the install holds off."""
    if seen.held:
        held = f"{seen.newest} (pinned to {record.requested})"
        return f"{seen.newer}; {held}" if seen.newer else held
    return seen.newer or ""
