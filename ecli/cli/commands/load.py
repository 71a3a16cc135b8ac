"""`ecli load FILE.tar`: import an OCI image-layout archive into the local store, offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  ecli load opensnoop.tar --json\n"
                     "  ecli install ./opensnoop.tar --pull never   (load and record it)")
    parser.add_argument("archive", type=Path, metavar="FILE.tar")
    parser.add_argument("--json", action="store_true", help="print the loaded refs as JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.oci import archive
    from ecli.oci.manifest import ANNOTATION_REF_NAME
    from ecli.oci.store import Store

    refs = archive.load(args.archive, Store(ctx.paths.oci_store_dir))
    loaded = [{"reference": d.annotations.get(ANNOTATION_REF_NAME), "digest": d.digest}
              for d in refs]
    result = Result(data=loaded, quiet=[])
    for item in loaded:
        result.line(f"loaded {item['reference']} {item['digest']}")
    return result
