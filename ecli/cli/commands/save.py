"""`ecli save TARGET... -o FILE.tar`: an OCI image-layout archive for air-gapped machines,
with the index entries and signatures of what it holds (`ecli.packages.airgap`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result, Text

EXAMPLES = """examples:
  ecli save opensnoop -o opensnoop.tar
  ecli save opensnoop@0.1.0 127.0.0.1:5000/ebpfhub/tool:1.0 -o bundle.tar
  # on the machine with no network:
  ecli load bundle.tar && ecli run --pull never opensnoop
  ecli install bundle.tar                      (load, then install every package in it)
  skopeo inspect oci-archive:bundle.tar:REGISTRY/REPOSITORY:VERSION   (names as printed)
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
    from ecli.packages import airgap

    located = [locate_target(target, ctx, pull=args.pull) for target in args.targets]
    size, saved = airgap.save(located, ctx.paths, args.output)
    result = Result(data={"archive": str(args.output), "bytes": size,
                          "packages": [{"reference": s.reference, "digest": s.digest,
                                        "name": s.name, "version": s.version}
                                       for s in saved]},
                    quiet=[Text(s.reference) for s in saved])
    result.line(f"saved {len(saved)} package(s) to {args.output} ({size} bytes)")
    for s in saved:
        entry = f"  (index entry of {s.name} {s.version})" if s.name else ""
        result.line(f"  {s.reference}{entry}")
    return result
