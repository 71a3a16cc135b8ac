"""`ecli pull TARGET`: download a package into the local store and print its digest."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result, Text
from ecli.errors import UsageError

EXAMPLES = """examples:
  ecli pull opensnoop
  ecli pull opensnoop@^0.1 --json
  ecli pull 127.0.0.1:5000/ebpfhub/opensnoop:0.1.0
  ecli pull ghcr.io/org/tool@sha256:...   (through mirrors: see `ecli mirrors`)

Blobs above 1 MiB show a progress bar when stderr is a terminal.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("reference", metavar="TARGET",
                        help="package NAME[@VERSION|@RANGE|@sha256:DIGEST], or "
                             "REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], or https://...")
    parser.add_argument("--always", action="store_true",
                        help="ask the registry even when the store has it")
    parser.add_argument("--json", action="store_true",
                        help='print {"reference", "digest", "manifest", "name", "version", '
                             '"kind"}: digest is what the reference names (an image index for '
                             'a multi-platform package), manifest the one for this machine')


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.cli.progress import BlobProgress
    from ecli.packages import targets

    target = targets.parse(args.reference)
    if target.kind == targets.OCI:
        assert target.oci is not None
        from ecli.packages.locate import pull_package

        show = not ctx.quiet and not args.json
        bar = BlobProgress(enabled=None if show else False)
        package = pull_package(target.oci, ctx.paths, None, force=args.always,
                               blob_progress=bar)
        config, digest, where = package.config, package.digest, str(target.oci)
        index_digest = package.index_digest
    else:
        from ecli.cli.locating import locate_target

        located = locate_target(args.reference, ctx,
                                pull="always" if args.always else "missing")
        if located.config is None or located.digest is None:
            raise UsageError(f"{args.reference!r} is a local file: there is nothing to pull")
        config, digest, where = located.config, located.digest, located.reference or ""
        index_digest = located.artifact.index_digest if located.artifact else None
        pinned = where.rpartition("@")[2] if "@sha256:" in where else None
        if index_digest is None and pinned not in (None, digest):
            index_digest = pinned  # found in the store: the index's pin names the index
    # `digest` is what the reference names (as `ecli info`, the hub and `ecli push` show
    # it); for a multi-platform package that is the image index, and the manifest run
    # here is this machine's platform's, named apart.
    named = index_digest or digest
    lines = [Text(f"pulled {where}: {config.name} {config.version} ({config.kind})"),
             Text(f"digest {named}" + (f" (image index; this platform's manifest {digest})"
                                       if index_digest else ""))]
    return Result(lines, data={"reference": where, "digest": named, "manifest": digest,
                               "name": config.name, "version": config.version,
                               "kind": config.kind}, quiet=[Text(named)])
