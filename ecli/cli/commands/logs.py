"""`ecli logs ID|NAME [-f]`: what a detached run printed (events and status lines)."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result

EXAMPLES = """examples:
  ecli logs 3f9c2a1e           what the run printed so far
  ecli logs -f opensnoop       follow it until it ends (Ctrl-C stops following)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("run_key", metavar="ID|NAME",
                        help="a run's ID (or a unique prefix) or its package name")
    parser.add_argument("-f", "--follow", action="store_true",
                        help="keep printing new output until the run ends (Ctrl-C to stop)")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.cli.render import write_bytes
    from ecli.launch.detached import Runs

    runs = Runs(ctx.paths.runs_dir)
    record = runs.find(args.run_key)
    write_bytes(runs.follow(record) if args.follow else [runs.read_log(record)])
    state = runs.state(record)
    if state is None or state.exit_status is None:
        return Result()
    return Result(notes=[f"run {record.id} ({record.name}) exited with status "
                         f"{state.exit_status}"])
