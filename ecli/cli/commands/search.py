"""`ecli search TERM`: find packages in the cached catalogs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ecli.cli.context import Context
from ecli.cli.render import Result, Text

if TYPE_CHECKING:
    from ecli.packages.index_client import IndexClient, SearchHit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  ecli search open\n  ecli search 'tcp latency' --json\n"
                     "  ecli search --kernel $(uname -r)   only packages proven on this kernel")
    parser.add_argument("term", nargs="?", default="",
                        help="words to look for in names, summaries and keywords")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--kernel", metavar="RELEASE",
                        help="only packages whose newest version passed the hub's test on a "
                        "kernel of this machine's architecture no newer than RELEASE")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages.index_client import IndexClient

    client = IndexClient(ctx.paths)
    hits = client.search(args.term)
    if args.kernel:
        hits = _proven_on(client, hits, args.kernel)
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
        proven = f" proven on {args.kernel}" if args.kernel else ""
        result.line(f"no packages{proven} match {args.term!r}")
    return result


def _proven_on(client: IndexClient, hits: list[SearchHit], release: str) -> list[SearchHit]:
    """The hits whose newest usable version passed on this architecture at or below
    `release` (api/v1 `kernels`; each hit's package document is read for it)."""
    import os

    from ecli.packages.kernelmatrix import newest_usable, works_on

    kept = []
    for hit in hits:
        _, document = client.find(hit.name)
        latest = newest_usable(document)
        if latest is not None and works_on(latest, release, os.uname().machine):
            kept.append(hit)
    return kept
