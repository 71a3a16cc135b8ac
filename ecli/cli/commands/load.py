"""`ecli load FILE.tar`: an `ecli save` archive into the store and its entries as a source,
checked whole first, offline (`ecli.packages.airgap`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result, Text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  ecli load tools.tar           then: ecli run --pull never NAME\n"
                     "  ecli load tools.tar --json\n"
                     "  ecli install tools.tar        (load, then install every package in it)")
    parser.add_argument("archive", type=Path, metavar="FILE.tar")
    parser.add_argument("--json", action="store_true", help="print what was loaded as JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages import airgap

    loaded = airgap.load(args.archive, ctx.paths)
    result = Result(data={"archive": str(args.archive), "source": loaded.source,
                          "packages": [{"reference": p.reference, "digest": p.digest,
                                        "name": p.name, "version": p.version}
                                       for p in loaded.packages]},
                    quiet=[Text(p.name or p.reference) for p in loaded.packages],
                    warnings=list(loaded.warnings))
    for p in loaded.packages:
        what = f"{p.name} {p.version}" if p.name else p.reference
        result.line(f"loaded {what} {p.digest}")
    if loaded.source:
        result.line(f"its index entries are the source {loaded.source} (ecli sources list); "
                    "run or install them by name with --pull never")
    return result
