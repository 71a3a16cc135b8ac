"""The runtime's layers, read from its import statements: each module imports only its
own layer or those below (docs/architecture.md, "The runtime")."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ECLI = Path(__file__).resolve().parent.parent / "ecli"


def imported(path: Path) -> set[str]:
    """Every ecli module a file imports, at any depth of the file (lazy imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("ecli")}


def modules(folder: str) -> list[Path]:
    return sorted((ECLI / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules("kernel"), ids=lambda p: p.name)
def test_kernel_facts_import_nothing_of_ecli_but_errors(path):
    outside = {n for n in imported(path) if not n.startswith(("ecli.errors", "ecli.kernel"))}
    assert outside == set()


@pytest.mark.parametrize("path", modules("runtime"), ids=lambda p: str(p.relative_to(ECLI)))
def test_the_runtime_imports_no_distribution_format_and_no_cli(path):
    for name in imported(path):
        assert not name.startswith(("ecli.oci", "ecli.hubindex.model", "ecli.cli",
                                    "ecli.packages", "ecli.launch", "ecli.develop")), name


@pytest.mark.parametrize("module", ["loader", "spec", "btf", "elf", "options", "analysis"])
def test_lower_layers_never_import_attaching_doctor_or_the_runner(module):
    for name in imported(ECLI / "runtime" / f"{module}.py"):
        assert not name.startswith(("ecli.runtime.attach", "ecli.runtime.probe",
                                    "ecli.runtime.runner")), name
        if module != "loader":
            assert not name.startswith(("ecli.runtime.loader", "ecli.runtime.libbpf")), name


def test_parsing_options_loads_no_c_library():
    code = ("import sys, ecli.runtime.options, ecli.runtime.analysis, ecli.kernel.system; "
            "print(sorted(m for m in ('ctypes', 'ecli.runtime.libbpf') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
