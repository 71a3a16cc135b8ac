"""`ecli search TERM`: find packages in the cached catalogs."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result, Text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "examples:\n  ecli search open\n  ecli search 'tcp latency' --json"
    parser.add_argument("term", nargs="?", default="",
                        help="words to look for in names, summaries and keywords")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages.index_client import IndexClient

    client = IndexClient(ctx.paths)
    hits = client.search(args.term)
    result = Result(data=[{"name": h.name, "summary": h.summary, "kind": h.kind,
                           "latest": h.latest, "source": h.source} for h in hits],
                    warnings=client.warnings, exit_code=0 if hits else 1,
                    quiet=[Text(h.name) for h in hits])
    if len({h.source for h in hits}) > 1:  # the same name may come from two sources
        result.table(["NAME", "VERSION", "KIND", "SOURCE", "SUMMARY"],
                     [(h.name, h.latest or "-", h.kind, h.source, h.summary) for h in hits])
    elif hits:
        result.table(["NAME", "VERSION", "KIND", "SUMMARY"],
                     [(h.name, h.latest or "-", h.kind, h.summary) for h in hits])
    else:
        result.quiet = []
        result.line(f"no packages match {args.term!r}")
    return result
