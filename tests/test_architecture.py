"""The import graph of ecli and the generator: one way, no cycles, no layer skipped upward.

docs/architecture.md draws the layers; this test holds the code to the
drawing. Every import counts, also those inside functions (imported lazily
for start-up time, they are dependencies all the same); imports under
`if TYPE_CHECKING:` do not, as they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import modules of its own layer or of lower ones.
LAYERS: tuple[tuple[str, ...], ...] = (
    # foundations: no imports of the project but each other
    ("ecli", "ecli.errors", "ecli.paths", "ecli.files", "ecli.text", "ecli.documents",
     "ecli.semver"),
    # formats and kernel facts
    ("ecli.oci.mediatypes", "ecli.oci.reference", "ecli.oci.manifest", "ecli.oci.config",
     "ecli.hubindex", "ecli.kernel"),
    # the network
    ("ecli.net",),
    # eBPF objects: parse, load, attach, run; registries and the content store
    ("ecli.runtime", "ecli.oci"),
    # finding and installing packages
    ("ecli.packages",),
    # launching them; the developer flow
    ("ecli.launch", "ecli.develop"),
    # the command line
    ("ecli.cli", "ecli.__main__"),
    # the hub's generator: imports ecli's formats, never imported by ecli
    ("generator",),
)


def _layer_of(module: str) -> int:
    best, rank = -1, -1
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, rank = len(name), index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return rank


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("ecli", "generator"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "templates" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str], *, top_level: bool = False) -> set[str]:
    """Project modules `module` imports, skipping TYPE_CHECKING blocks.

    Every import counts, however deep in a function, unless `top_level`:
    then only the statements that run when the module itself is imported.
    """
    tree = ast.parse(path.read_text(), str(path))
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and "TYPE_CHECKING" in ast.unparse(block.test)
               for body in block.body for node in ast.walk(body)}
    nodes = tree.body if top_level else list(ast.walk(tree))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in nodes:
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                     for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


MODULES = _modules()
GRAPH = {module: _imports(module, path, set(MODULES)) for module, path in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str):
    upward = sorted(target for target in GRAPH[module] if _layer_of(target) > _layer_of(module))
    assert not upward, f"{module} (layer {_layer_of(module)}) imports upward: {upward}"


def test_ecli_never_imports_the_generator():
    offenders = sorted(m for m, targets in GRAPH.items() if m.startswith("ecli")
                       and any(t == "generator" or t.startswith("generator.") for t in targets))
    assert not offenders


def test_no_import_cycles():
    """Module-level imports only: a cycle there breaks import order for whoever comes first."""
    top = {module: _imports(module, path, set(MODULES), top_level=True)
           for module, path in MODULES.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for target in sorted(top[module]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target):], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[module] = 2

    for module in sorted(top):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles
