"""`ecli stop ID|NAME|--all`: end detached runs; their programs go with them."""

from __future__ import annotations

import argparse
import sys

from ecli.cli.context import Context
from ecli.errors import UsageError

EXAMPLES = """examples:
  ecli stop 3f9c2a1e           by the ID 'ecli run --detach' printed (or a unique prefix)
  ecli stop opensnoop          by package name, when one run has it
  ecli stop --all              every detached run
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("runs", nargs="*", metavar="ID|NAME",
                        help="a run's ID (or a unique prefix) or its package name")
    parser.add_argument("--all", action="store_true", help="stop every detached run")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.launch.detached import Runs

    if args.all == bool(args.runs):
        raise UsageError("name the runs to stop (ID or NAME), or give --all, not both")
    runs = Runs(ctx.paths.runs_dir)
    if args.all:
        results = runs.stop_all()
    else:
        records = [runs.find(key) for key in args.runs]  # all found before any is stopped
        results = [runs.stop(record) for record in records]
    for result in results:
        record = result.record
        how = (f"stopped ({result.signal})" if result.signal
               else "had already exited")
        print(f"{record.id} {record.name}: {how}")
    if not results and not ctx.quiet:
        print("ecli: no detached runs", file=sys.stderr)
    return 0
