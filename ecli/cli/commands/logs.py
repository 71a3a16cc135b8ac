"""`ecli logs ID|NAME [-f]`: what a detached run printed (events and status lines)."""

from __future__ import annotations

import argparse
import sys

from ecli.cli.context import Context

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


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.launch.detached import Runs

    runs = Runs(ctx.paths.runs_dir)
    record = runs.find(args.run_key)
    out = sys.stdout.buffer
    if not args.follow:
        out.write(runs.read_log(record))
        out.flush()
        return 0
    for chunk in runs.follow(record):
        out.write(chunk)
        out.flush()
    return 0
