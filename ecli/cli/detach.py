"""`ecli run --detach`: start the run in the background and print its ID.

The child is the same `ecli run` command line without `--detach`, so every
option (ecli's and the program's) means exactly what it would in the
foreground; ecli.launch.detached does the starting and the waiting.
"""

from __future__ import annotations

import argparse
import sys

from ecli.cli.context import Context
from ecli.errors import UsageError


def run_detached(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.launch.detached import Runs

    argv = sys.argv[1:]
    # Global flags (-v, -q) take no values, so the first word is the command.
    start = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
    if start is None or argv[start] != "run" or args.target not in argv[start:]:
        raise UsageError("--detach needs ecli's own command line (ecli run --detach TARGET)")
    run_argv = [arg for arg in argv[start:] if arg != "--detach"]
    result = Runs(ctx.paths.runs_dir).start(args.target, run_argv)
    if result.record is None:  # finished before attaching, successfully: e.g. its -h
        sys.stdout.write(result.output)
        return 0
    record = result.record
    if ctx.verbose:
        for line in result.attach_lines:
            print(line, file=sys.stderr)
    if not ctx.quiet:
        print(f"ecli: {record.name}: {len(record.programs)} program(s) attached, "
              f"detached as {record.id} (pid {record.pid}); "
              f"'ecli logs {record.id}' shows its output, 'ecli stop {record.id}' ends it",
              file=sys.stderr)
    print(record.id)
    return 0
