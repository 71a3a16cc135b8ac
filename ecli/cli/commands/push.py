"""`ecli push REF [--dir DIR]`: push the artifact `ecli build` made in DIR to a registry."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result, Text
from ecli.errors import NotFoundError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  ecli build . && ecli push 127.0.0.1:5000/me/tool:0.1.0\n"
                     "  ecli push ghcr.io/me/tool:0.1.0 --dir examples/tool --json\n\n"
                     "Log in first when the registry needs it: ecli login ghcr.io -u me "
                     "--password-stdin\n\nBlobs above 1 MiB show a progress bar while they upload "
                     "when stderr is a terminal.")
    parser.add_argument("reference", metavar="REF",
                        help="where to push: REGISTRY/REPOSITORY:TAG, e.g. 127.0.0.1:5000/tool:1.0")
    parser.add_argument("--dir", default=".", metavar="DIR",
                        help="the project folder that `ecli build` built (default: .)")
    parser.add_argument("--source-tag", metavar="TAG",
                        help="which tag of DIR/build/oci to push (default: the tag of REF "
                             "if built, else the latest build)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.cli.progress import BlobProgress
    from ecli.oci import reference, registry
    from ecli.oci.store import Store

    ref = reference.parse(args.reference)
    layout = Path(args.dir) / "build" / "oci"
    store = Store(layout)
    if not store.exists():
        raise NotFoundError(f"no built artifact in {layout}",
                            hint=f"run `ecli build {args.dir}` first")
    bar = BlobProgress(enabled=None if not ctx.quiet and not args.json else False)
    digest = registry.push(store, ref, source_ref=args.source_tag, progress=bar)
    return Result([Text(f"pushed {ref}"), Text(f"digest {digest}")],
                  data={"reference": str(ref), "digest": digest}, quiet=[Text(digest)])
