"""`ecli cache [info|prune]`: what the cache holds; remove what nothing needs."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  ecli cache info --json\n  ecli cache prune\n"
                     "  ecli cache prune --all     also cached packages that are not installed,\n"
                     "                             downloads and the cached indexes")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = actions.add_parser("info", help="bytes used per cache area")
    info.add_argument("--json", action="store_true", help="print JSON")
    prune = actions.add_parser("prune", help="remove leftovers and unreachable blobs")
    prune.add_argument("--all", action="store_true",
                       help="also drop cached packages no installed package needs, "
                       "downloads and the cached indexes")
    prune.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages import cache

    if args.action == "info":
        usage = cache.usage(ctx.paths)
        result = Result(data={"root": str(ctx.paths.cache_dir), "bytes": usage})
        result.table(["AREA", "BYTES"], sorted(usage.items()))
        return result
    pruned = cache.prune(ctx.paths, all_refs=args.all)
    result = Result(data={"removed": pruned.files, "bytes": pruned.bytes}, quiet=[])
    result.line(f"removed {pruned.files} item(s), {pruned.bytes} bytes")
    return result
