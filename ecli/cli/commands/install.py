"""`ecli install TARGET...`: pull, verify, prepare and record packages."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import print_json

EXAMPLES = """examples:
  ecli install opensnoop                 newest version that is not yanked
  ecli install opensnoop@^0.1            newest 0.1.x; upgrades stay in that range
  ecli install opensnoop@sha256:...      exactly that digest
  ecli install 127.0.0.1:5000/ebpfhub/opensnoop:0.1.0
  ecli install ./saved.tar --pull never  from an archive made by `ecli save`
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("targets", nargs="+", metavar="TARGET",
                        help="NAME[@VERSION|@RANGE|@sha256:DIGEST], OCI reference, URL or path")
    add_pull_option(parser)
    parser.add_argument("--json", action="store_true", help="print what was installed as JSON")


def add_pull_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pull", choices=("missing", "always", "never"), default="missing",
                        help="pull only what is missing (default), always, or never")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.cli.progress import status, warn
    from ecli.packages.install import install

    results = []
    for target in args.targets:
        change, warnings = install(target, ctx.paths, None if ctx.quiet else status,
                                   pull=args.pull)
        for warning in warnings:
            warn(warning)
        results.append(change)
        if not args.json and not ctx.quiet:
            was = f" (was {change.old})" if change.old and change.old != change.new else ""
            print(f"installed {change.name} {change.new}{was} {change.digest}")
    if args.json:
        print_json([{"name": c.name, "version": c.new, "previous": c.old, "digest": c.digest}
                    for c in results])
    return 0
