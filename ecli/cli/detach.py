"""`ecli run --detach`: start the run in the background and print its ID.

The child is the same `ecli run` command line without `--detach`, so every
option (ecli's and the program's) means exactly what it would in the
foreground; ecli.launch.detached does the starting and the waiting, through
the state file the child writes.
"""

from __future__ import annotations

import argparse
import sys

from ecli.cli.context import Context
from ecli.cli.render import Result, Text
from ecli.errors import UsageError


def run_detached(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.cli.progress import status
    from ecli.launch.detached import Runs

    argv = sys.argv[1:]
    # Global flags (-v, -q) take no values, so the first word is the command.
    start = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
    if start is None or argv[start] != "run" or args.target not in argv[start:]:
        raise UsageError("--detach needs ecli's own command line (ecli run --detach TARGET)")
    run_argv = [arg for arg in argv[start:] if arg != "--detach"]
    started = Runs(ctx.paths.runs_dir).start(args.target, run_argv)
    if started.record is None:  # finished before attaching, successfully: e.g. its -h
        return Result([Text(started.output.removesuffix("\n"), multiline=True)]
                      if started.output else [])
    record = started.record
    if ctx.verbose:
        for program in started.programs:
            status(f"{record.name}: program {program.name} id {program.id} "
                   f"attached to {program.section}")
    if not ctx.quiet:
        status(f"{record.name}: {len(record.programs)} program(s) attached, "
               f"detached as {record.id} (pid {record.pid}); "
               f"'ecli logs {record.id}' shows its output, 'ecli stop {record.id}' ends it")
    return Result([Text(record.id)])  # the ID alone, also with --json (the run's option)
