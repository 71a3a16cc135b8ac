"""`ecli inspect TARGET`: what a package's eBPF objects can do, read before running them."""

from __future__ import annotations

import argparse
import sys

from ecli.cli.context import Context

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
program cannot be inspected.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("target", metavar="TARGET",
                        help="package NAME[@VERSION], OCI reference, .bpf.o, or package folder")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--pull", choices=("missing", "always", "never"), default="missing",
                        help="pull only what is missing (default), always, or never")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.cli.render import inspection_json, print_inspection, print_json
    from ecli.packages.inspection import inspect_package
    from ecli.packages.locate import locate

    package = locate(args.target, ctx.paths, progress=None if ctx.quiet else _progress,
                     pull=args.pull)
    report = inspect_package(package, ctx.paths)
    if args.json:
        print_json(inspection_json(report))
    else:
        print_inspection(report)
    return 0


def _progress(message: str) -> None:
    print(f"ecli: {message}", file=sys.stderr, flush=True)
