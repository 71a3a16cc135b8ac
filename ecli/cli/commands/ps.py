"""`ecli ps`: the detached runs still running (records of finished ones are pruned)."""

from __future__ import annotations

import argparse
import time

from ecli.cli.context import Context
from ecli.cli.render import Result, Text

EXAMPLES = """examples:
  ecli ps                      the detached runs still running
  ecli ps --json               the same, with their program ids, for scripts
  ecli stop $(ecli ps -q)      -q prints only the IDs
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.launch.detached import Runs

    runs = Runs(ctx.paths.runs_dir)
    records = runs.running()
    states = [runs.state(r) for r in records]
    result = Result(data=[{
        "id": r.id, "name": r.name, "pid": r.pid, "target": r.target,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(r.started)),
        "uptime_seconds": round(r.uptime, 1), "log": r.log, "programs": list(r.programs),
        "state": state.state if state else None,
    } for r, state in zip(records, states, strict=True)], quiet=[Text(r.id) for r in records])
    result.table(["ID", "NAME", "PID", "STARTED", "UPTIME", "TARGET", "LOG"],
                 [(r.id, r.name, r.pid, time.strftime("%Y-%m-%d %H:%M:%S",
                                                      time.localtime(r.started)),
                   _duration(r.uptime), r.target, r.log) for r in records])
    return result


def _duration(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
