"""`ecli pull TARGET`: download a package into the local store and print its digest."""

from __future__ import annotations

import argparse
import json
import sys

from ecli.cli.context import Context
from ecli.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  ecli pull opensnoop\n  ecli pull opensnoop@0.1.0 --json\n"
                     "  ecli pull 127.0.0.1:5000/ebpfhub/opensnoop:0.1.0")
    parser.add_argument("reference", metavar="TARGET",
                        help="package NAME[@VERSION], or REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]")
    parser.add_argument("--json", action="store_true",
                        help='print {"reference", "digest", "name", "version", "kind"}')


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.oci import reference, registry
    from ecli.oci.store import Store

    if reference.looks_like_oci(args.reference):
        ref = reference.parse(args.reference)
        show = not ctx.quiet and not args.json and sys.stderr.isatty()
        pulled = registry.pull(ref, Store(ctx.paths.oci_store_dir),
                               progress=_progress if show else None)
        if show:
            print(file=sys.stderr)
        config, digest, where = pulled.package.config, pulled.digest, str(ref)
    else:
        from ecli.locate import locate

        located = locate(args.reference, ctx.paths)
        if located.config is None or located.digest is None:
            raise UsageError(f"{args.reference!r} is a local file: there is nothing to pull")
        config, digest, where = located.config, located.digest, located.reference or ""
    if args.json:
        print(json.dumps({"reference": where, "digest": digest, "name": config.name,
                          "version": config.version, "kind": config.kind}))
    elif ctx.quiet:
        print(digest)
    else:
        print(f"pulled {where}: {config.name} {config.version} ({config.kind})")
        print(f"digest {digest}")
    return 0


def _progress(what: str, done: int, total: int) -> None:
    print(f"\r  {what[:40]:<40} {done:>10}/{total} bytes", end="", file=sys.stderr, flush=True)
