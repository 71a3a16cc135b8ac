"""`ecli save TARGET... -o FILE.tar`: an OCI image-layout archive for air-gapped machines."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result

EXAMPLES = """examples:
  ecli save opensnoop -o opensnoop.tar
  ecli save opensnoop@0.1.0 127.0.0.1:5000/ebpfhub/tool:1.0 -o bundle.tar
  # on the machine with no network:
  ecli load bundle.tar && ecli run opensnoop --pull never
  skopeo inspect oci-archive:opensnoop.tar:OPENSNOOP-REF     (any OCI tool reads it)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("targets", nargs="+", metavar="TARGET",
                        help="package NAME[@VERSION] or OCI reference (pulled if missing)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.tar")
    parser.add_argument("--pull", choices=("missing", "always", "never"), default="missing",
                        help="pull what is missing (default), always, or never")
    parser.add_argument("--json", action="store_true", help="print what was saved as JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.cli.locating import locate_target
    from ecli.errors import UsageError
    from ecli.oci import archive
    from ecli.oci.manifest import ANNOTATION_REF_NAME, Descriptor
    from ecli.oci.store import Store

    store = Store(ctx.paths.oci_store_dir)
    refs = []
    for target in args.targets:
        located = locate_target(target, ctx, pull=args.pull)
        if located.artifact is None or located.digest is None:
            raise UsageError(f"{target!r} is not a stored package: nothing to save")
        name = located.reference or f"ecli.local/{located.name}@{located.digest}"
        if located.artifact.files and not next(iter(located.artifact.files.values())
                                               ).is_relative_to(store.root):
            raise UsageError(f"{target!r} lives outside the cache; install it first")
        raw = store.read_blob(located.digest)
        refs.append(Descriptor(located.artifact.manifest.media_type, located.digest, len(raw),
                               {ANNOTATION_REF_NAME: name},
                               artifact_type=located.artifact.manifest.artifact_type))
    size = archive.save(store, refs, args.output)
    result = Result(data={"archive": str(args.output), "bytes": size,
                          "packages": [{"reference": ref.annotations[ANNOTATION_REF_NAME],
                                        "digest": ref.digest} for ref in refs]}, quiet=[])
    result.line(f"saved {len(args.targets)} package(s) to {args.output} ({size} bytes)")
    return result
