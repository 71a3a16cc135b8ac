"""The import graph of ecli and the generator: one way, no cycles, no layer skipped upward.

docs/architecture.md draws the layers; this test holds the code to the
drawing. Every import counts, also those inside functions (imported lazily
for start-up time, they are dependencies all the same); imports under
`if TYPE_CHECKING:` do not, as they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import modules of its own layer or of lower ones.
LAYERS: tuple[tuple[str, ...], ...] = (
    # foundations: no imports of the project but each other
    ("ecli", "ecli.errors", "ecli.paths", "ecli.files", "ecli.text", "ecli.documents",
     "ecli.semver", "ecli.suggest"),
    # formats and kernel facts
    ("ecli.oci.mediatypes", "ecli.oci.reference", "ecli.oci.manifest", "ecli.oci.config",
     "ecli.oci.eunomia",
     "ecli.hubindex", "ecli.kernel"),
    # the network
    ("ecli.net",),
    # eBPF objects: parse, load, attach, run; registries and the content store
    ("ecli.runtime", "ecli.oci"),
    # metrics: a run's maps exported (reads maps, pushes OTLP through ecli.net)
    ("ecli.metrics",),
    # signing and checking signatures
    ("ecli.trust",),
    # finding and installing packages
    ("ecli.packages",),
    # launching them; the developer flow
    ("ecli.launch", "ecli.develop"),
    # the command line
    ("ecli.cli", "ecli.__main__"),
    # the hub's generator: imports ecli's formats, never imported by ecli
    ("generator",),
)

# Within and beside the layers: (importer, what it must not import, why).
FORBIDDEN: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("ecli.kernel", ("ecli.paths", "ecli.files", "ecli.oci", "ecli.hubindex", "ecli.runtime",
                     "ctypes"),
     "kernel facts are pure: names, numbers and files of /sys and /proc"),
    ("ecli.runtime", ("ecli.oci", "ecli.hubindex.model", "ecli.net"),
     "the runtime takes plain settings, never a distribution format"),
    ("ecli.oci", ("ecli.runtime", "ecli.kernel"),
     "registries and the store carry eBPF objects without reading them"),
    ("ecli.net", ("ecli.oci", "ecli.hubindex", "ecli.runtime", "ecli.kernel"),
     "HTTP knows nothing of what it carries"),
    ("ecli.runtime.event_header", ("ecli.runtime.attach", "ecli.runtime.probe",
                                   "ecli.runtime.runner", "ecli.runtime.options",
                                   "ecli.runtime.loader", "ecli.runtime.libbpf", "ctypes"),
     "event types from a header are parsing: below the run loop, no C library"),
    *((f"ecli.runtime.{name}", ("ecli.runtime.attach", "ecli.runtime.probe",
                               "ecli.runtime.runner", "ecli.runtime.options"),
       "load sits below attaching, options, doctor and the run loop")
      for name in ("elf", "btf", "insns", "spec", "decode", "loader", "libbpf")),
    *((f"ecli.runtime.{name}", ("ecli.runtime.loader", "ecli.runtime.libbpf", "ctypes"),
       "parsing and analysing need no C library")
      for name in ("elf", "btf", "insns", "spec", "analysis", "options", "filters")),
    ("ecli.runtime.wasm.embedded", ("wasmtime", "ctypes", "ecli.runtime.loader",
                                    "ecli.runtime.libbpf"),
     "finding the objects a module embeds is parsing: no wasm runtime, no C library"),
)
# Only ecli.net speaks HTTP.
HTTP_CLIENTS = ("urllib.request", "http.client")


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


def _imported_names(module: str, path: Path, *, top_level: bool = False) -> set[str]:
    """Every dotted name `module` imports (`from a import b` gives a.b), TYPE_CHECKING aside.

    Every import counts, however deep in a function, unless `top_level`:
    then only the statements that run when the module itself is imported.
    """
    tree = ast.parse(path.read_text(), str(path))
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and "TYPE_CHECKING" in ast.unparse(block.test)
               for body in block.body for node in ast.walk(body)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in tree.body if top_level else ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _project(names: set[str], known: set[str], module: str) -> set[str]:
    """The project modules among `names` (a name imported from a module counts as the module)."""
    found = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    # `from ecli.oci import mediatypes` names the package too: the module is what it uses
    return {name for name in found if not any(other.startswith(name + ".") for other in found)}


MODULES = _modules()
NAMES = {module: _imported_names(module, path) for module, path in MODULES.items()}
GRAPH = {module: _project(names, set(MODULES), module) for module, names in NAMES.items()}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str):
    upward = sorted(target for target in GRAPH[module] if _layer_of(target) > _layer_of(module))
    assert not upward, f"{module} (layer {_layer_of(module)}) imports upward: {upward}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_what_its_part_must_not(module: str):
    for importer, forbidden, why in FORBIDDEN:
        if _within(module, importer):
            wrong = sorted(n for n in NAMES[module] if any(_within(n, f) for f in forbidden))
            assert not wrong, f"{module} imports {wrong}: {why}"
    if not _within(module, "ecli.net") and _within(module, "ecli"):
        assert not NAMES[module] & set(HTTP_CLIENTS), f"{module} speaks HTTP outside ecli.net"


def test_ecli_never_imports_the_generator():
    offenders = sorted(m for m, targets in GRAPH.items() if _within(m, "ecli")
                       and any(_within(t, "generator") for t in targets))
    assert not offenders


def test_no_import_cycles():
    """Module-level imports only: a cycle there breaks import order for whoever comes first."""
    top = {module: _project(_imported_names(module, path, top_level=True), set(MODULES), module)
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


def test_parsing_options_loads_no_c_library():
    """What the static rules say, seen in a real interpreter: lazy imports included."""
    code = ("import sys, ecli.runtime.options, ecli.runtime.analysis, ecli.kernel.system; "
            "print(sorted(m for m in ('ctypes', 'ecli.runtime.libbpf') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_only_otlp_imports_protobuf_and_only_inside_functions():
    """The OpenTelemetry protobuf definitions load only when --otel-endpoint pushes."""
    users = sorted(m for m, names in NAMES.items()
                   if any(_within(n, "google.protobuf") or _within(n, "opentelemetry")
                          for n in names))
    assert users == ["ecli.metrics.otlp"]
    top = _imported_names(users[0], MODULES[users[0]], top_level=True)
    assert not any(_within(n, "google") or _within(n, "opentelemetry") for n in top)


def test_only_keyless_imports_sigstore_and_only_inside_functions():
    """sigstore-python costs ~250 ms of imports: one module uses it, and lazily."""
    users = sorted(m for m, names in NAMES.items() if any(_within(n, "sigstore") for n in names))
    assert users == ["ecli.trust.keyless"]
    top = _imported_names(users[0], MODULES[users[0]], top_level=True)
    assert not any(_within(n, "sigstore") for n in top)


def test_only_the_wasm_runtime_imports_wasmtime():
    """wasmtime is the kind wasm runtime's: one module owns the host ABI, one the wiring."""
    users = sorted(m for m, names in NAMES.items() if any(_within(n, "wasmtime") for n in names))
    assert users == ["ecli.runtime.wasm.hostabi", "ecli.runtime.wasm.runner"]
