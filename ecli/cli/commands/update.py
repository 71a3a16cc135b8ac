"""`ecli update`: refresh every source's catalog, conditionally."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.index_client import IndexClient

    client = IndexClient(ctx.paths)
    results = [client.update(source) for source in client.require_sources()]
    if args.json:
        print_json([{"source": r.source.name, "changed": r.changed, "packages": r.packages}
                    for r in results])
    elif not ctx.quiet:
        for r in results:
            state = "updated" if r.changed else "up to date"
            print(f"{r.source.name}: {state}, {r.packages} package(s)")
    return 0
