"""`ecli install TARGET...`: pull, verify, prepare and record packages."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result

EXAMPLES = """examples:
  ecli install opensnoop                 newest version that is not yanked
  ecli install opensnoop@^0.1            newest 0.1.x; upgrades stay in that range
  ecli install opensnoop@sha256:...      exactly that digest
  ecli install 127.0.0.1:5000/ebpfhub/opensnoop:0.1.0
  ecli install ./saved.tar               every package of an `ecli save` archive, offline
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


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.cli.progress import status
    from ecli.packages import targets
    from ecli.packages.install import install

    progress = None if ctx.quiet else status
    changes, warnings = [], []
    for target in args.targets:
        parsed = targets.parse(target)
        if parsed.kind == targets.PATH and parsed.is_archive:
            from ecli.packages.airgap import install_archive

            done, found = install_archive(Path(target).expanduser(), ctx.paths, progress)
        else:
            change, found = install(target, ctx.paths, progress, pull=args.pull)
            done = [change]
        changes += done
        warnings += found
    result = Result(data=[{"name": c.name, "version": c.new, "previous": c.old,
                           "digest": c.digest} for c in changes], quiet=[], warnings=warnings)
    for c in changes:
        was = f" (was {c.old})" if c.old and c.old != c.new else ""
        result.line(f"installed {c.name} {c.new}{was} {c.digest}")
    return result
