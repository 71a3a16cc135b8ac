"""`ecli search TERM`: find packages in the cached catalogs."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import print_json, print_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "examples:\n  ecli search open\n  ecli search 'tcp latency' --json"
    parser.add_argument("term", nargs="?", default="",
                        help="words to look for in names, summaries and keywords")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.packages.index_client import IndexClient

    client = IndexClient(ctx.paths)
    hits = client.search(args.term)
    if client.warnings and not ctx.quiet:
        from ecli.cli.progress import warn

        for warning in client.warnings:
            warn(warning)
    if args.json:
        print_json([{"name": h.name, "summary": h.summary, "kind": h.kind,
                     "latest": h.latest, "source": h.source} for h in hits])
    elif hits:
        print_table(["NAME", "VERSION", "KIND", "SUMMARY"],
                    [(h.name, h.latest or "-", h.kind, h.summary) for h in hits])
    elif not ctx.quiet:
        print(f"no packages match {args.term!r}")
    return 0 if hits else 1
