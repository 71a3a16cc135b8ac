"""`ecli pull OCI-REF`: download an artifact into the local store and print its digest."""

from __future__ import annotations

import argparse
import json
import sys

from ecli.cli.context import Context
from ecli.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reference", metavar="OCI-REF",
                        help="REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]")
    parser.add_argument("--json", action="store_true",
                        help='print {"reference", "digest", "name", "version", "kind"}')


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.oci import reference, registry
    from ecli.oci.store import Store

    if not reference.looks_like_oci(args.reference):
        raise UsageError(f"{args.reference!r} is not an OCI reference",
                         hint="write REGISTRY/REPOSITORY[:TAG], e.g. ghcr.io/org/tool:1.0")
    ref = reference.parse(args.reference)
    show = not ctx.quiet and not args.json and sys.stderr.isatty()
    pulled = registry.pull(ref, Store(ctx.paths.oci_store_dir),
                           progress=_progress if show else None)
    if show:
        print(file=sys.stderr)
    config = pulled.package.config
    if args.json:
        print(json.dumps({"reference": str(ref), "digest": pulled.digest, "name": config.name,
                          "version": config.version, "kind": config.kind}))
    elif ctx.quiet:
        print(pulled.digest)
    else:
        print(f"pulled {ref}: {config.name} {config.version} ({config.kind})")
        print(f"digest {pulled.digest}")
    return 0


def _progress(what: str, done: int, total: int) -> None:
    print(f"\r  {what[:40]:<40} {done:>10}/{total} bytes", end="", file=sys.stderr, flush=True)
