"""What showing the permissions costs `ecli run`, measured inside fresh processes.

    python bench/run_permissions.py [--runs N]

Whole-process start-up times on a shared 2-core machine vary by tens of ms,
more than this step costs, so each sample is a new Python process that
imports what `ecli run` has imported by then, parses opensnoop's object,
and times only the added step: importing the analysis, analysing the
ObjectSpec the loader already parsed, and rendering the block. "named" is a
package run by name (the JSON index model is already imported); "local" is
`ecli run ./x.bpf.o` (the model is imported for the analysis). Not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bpf_objects import OPENSNOOP, compile_bpf  # noqa: E402

SAMPLE = r'''
import io, sys, time
from pathlib import Path
import ecli.cli.render, ecli.packages.locate, ecli.runtime.runner
if sys.argv[1] == "named":
    import ecli.packages.index_client
from ecli.runtime.spec import ObjectSpec
spec = ObjectSpec.from_file(Path(sys.argv[2]))
start = time.perf_counter()
from ecli.runtime.analysis import analyse, shown
found = analyse(spec)
ecli.cli.render.print_permissions("opensnoop", shown(found, False), "opensnoop", io.StringIO())
print((time.perf_counter() - start) * 1000)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        obj = compile_bpf(OPENSNOOP, Path(tmp))
        rows = []
        for case in ("named", "local"):
            samples = [float(subprocess.run(
                [sys.executable, "-c", SAMPLE, case, str(obj)], capture_output=True,
                text=True, check=True, cwd=ROOT, env=env).stdout) for _ in range(args.runs)]
            rows.append((case, statistics.median(samples), min(samples)))
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d')}, {args.runs} processes each")
    print("| ecli run, permissions step | median ms | min ms |")
    print("| -------------------------- | --------- | ------ |")
    for case, median, least in rows:
        print(f"| {case:<26} | {median:9.2f} | {least:6.2f} |")


if __name__ == "__main__":
    main()
