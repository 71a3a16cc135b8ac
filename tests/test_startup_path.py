"""`ecli run NAME` of a cached package defines no dataclass before its first event.

On Python 3.11 creating a frozen dataclass costs about 0.5 ms (six generated methods, each
compiled), a NamedTuple a tenth of that; `ecli run` once defined 68 of them, a third of its
time to the first event. The records on the run path are NamedTuples
(docs/developer-guide.md); this keeps them so.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from index_fixtures import cached_package_env

# Runs ecli as `python -m ecli` does, then names every dataclass of an ecli module loaded.
LISTING = """
import dataclasses, runpy, sys
try:
    runpy.run_module("ecli", run_name="__main__", alter_sys=True)
finally:
    made = sorted(f"{name}.{value.__qualname__}" for name, module in list(sys.modules.items())
                  if name.split(".")[0] == "ecli" and module is not None
                  for value in vars(module).values()
                  if isinstance(value, type) and value.__module__ == name
                  and dataclasses.is_dataclass(value))
    print("dataclasses:", " ".join(made), file=sys.stderr)
"""


def test_running_a_cached_package_defines_no_dataclass(registry, tmp_path: Path):
    env = cached_package_env(tmp_path, registry.host)
    done = subprocess.run([sys.executable, "-c", LISTING, "run", "opensnoop", "--duration",
                           "0.3"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "opensnoop: 2 program(s) attached" in done.stderr
    [listed] = [line for line in done.stderr.splitlines() if line.startswith("dataclasses:")]
    assert listed.split()[1:] == [], f"defined on the run path: {listed}"
