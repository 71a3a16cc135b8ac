"""`ecli mirrors list|add|remove`: pull a registry's repositories from a mirror first."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result, Text

EXAMPLES = """examples:
  ecli mirrors add ghcr.io 127.0.0.1:5000     pull ghcr.io/x/y from 127.0.0.1:5000/x/y first
  ecli mirrors list --json
  ecli mirrors remove ghcr.io 127.0.0.1:5000

Sources may announce mirrors too (registry_mirrors in their index.json); they
are tried after yours, and the registry itself last. Digests are verified,
so a mirror cannot change what is pulled.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="show mirrors, yours and the sources'")
    listing.add_argument("--json", action="store_true", help="print JSON")
    adding = actions.add_parser("add", help="add a mirror for a registry")
    adding.add_argument("registry")
    adding.add_argument("mirror")
    removing = actions.add_parser("remove", help="remove one mirror, or all of a registry's")
    removing.add_argument("registry")
    removing.add_argument("mirror", nargs="?")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.oci import mirrors

    if args.action == "add":
        mirrors.add(ctx.paths, args.registry, args.mirror)
        return Result(quiet=[], output=[Text(f"{args.registry}: mirrored by {args.mirror}")])
    if args.action == "remove":
        mirrors.remove(ctx.paths, args.registry, args.mirror)
        return Result(quiet=[], output=[Text(f"{args.registry}: mirror removed")])
    rows = [(r, m, "config") for r, ms in mirrors.configured(ctx.paths).items() for m in ms]
    rows += [(r, m, "source") for r, ms in mirrors.from_sources(ctx.paths).items()
             for m in ms]
    result = Result(data=[{"registry": r, "mirror": m, "from": f} for r, m, f in rows])
    if rows:
        result.table(["REGISTRY", "MIRROR", "FROM"], rows)
    else:
        result.quiet = []
        result.line("no mirrors configured")
    return result
