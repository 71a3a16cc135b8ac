"""`ecli info NAME`: everything the index says about a package."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from ecli.cli.context import Context
from ecli.cli.render import Result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "examples:\n  ecli info opensnoop\n  ecli info opensnoop --json"
    parser.add_argument("name", help="package name")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages.index_client import IndexClient

    client = IndexClient(ctx.paths)
    source, doc = client.find(args.name)
    result = Result(data={"source": source.name, **asdict(doc)}, warnings=client.warnings)
    result.line(f"{doc.name}: {doc.summary}")
    for label, value in (("kind", doc.kind), ("license", doc.license),
                         ("owners", ", ".join(doc.owners)), ("homepage", doc.homepage),
                         ("source", doc.source), ("keywords", ", ".join(doc.keywords)),
                         ("from", source.name)):
        if value:
            result.line(f"  {label + ':':<10} {value}")
    if doc.description:
        result.line(doc.description.strip(), multiline=True, gap=True)
    result.line()
    result.table(["VERSION", "DIGEST", "PLATFORMS", "PUBLISHED", "NOTE"],
                 [(v.version, v.digest,
                   ",".join(sorted({p.architecture for p in v.platforms})) or "-",
                   v.published or "-", f"yanked: {v.yanked}" if v.yanked else "")
                  for v in doc.versions])
    result.line(f"run it: sudo ecli run {doc.name}", gap=True)
    return result
