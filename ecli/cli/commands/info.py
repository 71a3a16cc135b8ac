"""`ecli info NAME`: everything the index says about a package."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ecli.cli.context import Context
from ecli.cli.render import Result

if TYPE_CHECKING:
    from ecli.hubindex import model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "examples:\n  ecli info opensnoop\n  ecli info opensnoop --json"
    parser.add_argument("name", help="package name")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.documents import plain
    from ecli.packages.index_client import IndexClient

    client = IndexClient(ctx.paths)
    source, doc = client.find(args.name)
    result = Result(data={**plain(doc), "from": source.name}, warnings=client.warnings)
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
    _kernels(result, doc)
    result.line(f"run it: sudo ecli run {doc.name}", gap=True)
    return result


def _kernels(result: Result, doc: model.PackageDocument) -> None:
    """The hub's kernel matrix of the newest usable version, and what it means here."""
    from ecli.packages.kernelmatrix import machine_warning

    latest = next((v for v in doc.versions if not v.yanked), None)
    if latest is None or not latest.kernels:
        return
    result.line(f"kernels {latest.version} was tested on by the hub:", gap=True)
    result.table(["KERNEL", "ARCH", "RESULT", "TESTED", "REASON"],
                 [(k.kernel, k.arch, k.result, k.tested, _gist(k.reason))
                  for k in latest.kernels])
    outside = machine_warning(doc.name, latest)
    if outside:
        result.warnings.append(outside)


def _gist(reason: str, width: int = 90) -> str:
    """A failure's reason in one line: its last line that is not the verifier's
    statistics (for a refused load, the verifier's verdict); --json has it whole."""
    lines = [line.strip() for line in reason.splitlines() if line.strip()
             and not line.startswith(("processed ", "verification time"))]
    text = lines[-1] if lines else "-"
    return text if len(text) <= width else text[:width - 3] + "..."

