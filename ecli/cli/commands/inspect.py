"""`ecli inspect TARGET`: what a package's eBPF objects can do, read before running them."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result

EXAMPLES = """examples:
  ecli inspect opensnoop                   the newest version from the sources
  ecli inspect opensnoop@0.1.0 --json      a pinned version, as JSON for scripts
  ecli inspect 127.0.0.1:5000/ebpfhub/opensnoop:0.1.0
  ecli inspect ./opensnoop.bpf.o           a local object
  ecli inspect ./examples/opensnoop        a package folder built by 'ecli build'

Shows programs (section, type, attach point), maps (name, type, sizes),
helpers, license, minimum kernel and the permissions with their level:
dangerous, elevated or info. 'ecli run' asks before running a package with a
dangerous permission. A bundle's eBPF objects are read; its user-space
program cannot be inspected. A bundle or image also shows run-publisher-code:
dangerous unless signed by the signer its index entry declares, or a local build.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("target", metavar="TARGET",
                        help="package NAME[@VERSION], OCI reference, .bpf.o, or package folder")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--pull", choices=("missing", "always", "never"), default="missing",
                        help="pull only what is missing (default), always, or never")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.cli.locating import locate_target
    from ecli.cli.render import inspection_blocks, inspection_json
    from ecli.packages.inspection import inspect_package

    package = locate_target(args.target, ctx, pull=args.pull)
    report = inspect_package(package, ctx.paths)
    return Result(inspection_blocks(report), data=inspection_json(report))
