"""The bench scripts still start: each answers --help, so every import it makes resolves.

Benchmarks are not run by the suite (they are figures, not tests), but a
script that no longer imports after a refactor is a figure nobody can
re-run; this catches that in seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if "__main__" in p.read_text())


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_script_answers_help(script: Path):
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_the_synthetic_hub_module_imports():
    result = subprocess.run([sys.executable, "-c", "import hub_synth"], cwd=BENCH,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
