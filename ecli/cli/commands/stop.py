"""`ecli stop ID|NAME|--all`: end detached runs; their programs go with them."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result
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
    parser.add_argument("--json", action="store_true", help="print what was stopped as JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.launch.detached import Runs

    if args.all == bool(args.runs):
        raise UsageError("name the runs to stop (ID or NAME), or give --all, not both")
    runs = Runs(ctx.paths.runs_dir)
    if args.all:
        stopped = runs.stop_all()
    else:
        records = [runs.find(key) for key in args.runs]  # all found before any is stopped
        stopped = [runs.stop(record) for record in records]
    result = Result(data=[{"id": s.record.id, "name": s.record.name, "signal": s.signal or None,
                           "exit_status": s.exit_status} for s in stopped],
                    notes=[] if stopped else ["no detached runs"])
    for s in stopped:
        how = f"stopped ({s.signal})" if s.signal else "had already exited"
        result.line(f"{s.record.id} {s.record.name}: {how}")
    return result
