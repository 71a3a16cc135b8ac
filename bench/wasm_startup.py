"""The wasm runtime's cost on record: `ecli run` of a wasm-bpf package until its first event,
beside the same eBPF program run as a plain `bpf` package, in one run.

    python bench/wasm_startup.py [--runs N]

Builds examples/wasm-execsnoop (clang for wasm32-wasi), pushes it to a local
registry twice (kind wasm: the module; kind bpf: its object alone), pulls both,
then times from spawning each tracer until it prints an exec of a program we
keep starting: the two cached packages by reference, the module and the object
by path, and `bpftrace` with the equivalent one-liner. Needs root, clang,
bpftool, bpftrace, docker-registry and the wasm toolchain (Makefile APT_PACKAGES).
Medians over the runs; the tracers take turns, one run each. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from startup import time_to_first_event  # noqa: E402
from wasm_modules import build_execsnoop  # noqa: E402

from ecli.oci import artifact  # noqa: E402
from ecli.oci import reference as references  # noqa: E402
from ecli.oci import registry as oci_registry  # noqa: E402
from ecli.oci.config import PackageConfig  # noqa: E402
from ecli.oci.store import Store  # noqa: E402

from registry_server import running_registry  # noqa: E402

BPFTRACE = ["bpftrace", "-e", 'tracepoint:sched:sched_process_exec '
            '{ printf("%s\\n", str(args->filename)); }']


class ExecProbe:
    """The event: an exec of a copy of /bin/true named after the token."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, token: str) -> None:
        path = self.folder / token
        if not path.exists():
            shutil.copy("/bin/true", path)
        subprocess.run([str(path)], check=False)


def push(module: Path, kind: str, host: str, work: Path, env: dict[str, str]) -> str:
    """Push the module (kind wasm) or its object (kind bpf) and pull it into ECLI_HOME."""
    files = [module] if kind == "wasm" else [module.parent / "wasm_execsnoop.bpf.o"]
    store = Store(work / f"layout-{kind}")
    config = PackageConfig(name=f"execsnoop-{kind}", version="0.1.0", kind=kind,
                           object=files[0].name)
    artifact.create(store, config, files, tag="0.1.0")
    ref = f"{host}/bench/execsnoop-{kind}:0.1.0"
    oci_registry.push(store, references.parse(ref))
    subprocess.run([sys.executable, "-m", "ecli", "-q", "pull", ref], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    ecli = [sys.executable, "-m", "ecli", "run", "--yes"]
    with tempfile.TemporaryDirectory() as tmp, running_registry() as registry:
        work = Path(tmp)
        env = {**os.environ, "ECLI_HOME": str(work / "home"), "ECLI_DEFAULT_SOURCE": ""}
        module = build_execsnoop(work / "build")
        refs = {kind: push(module, kind, registry.host, work, env) for kind in ("wasm", "bpf")}
        probes = work / "probes"
        probes.mkdir()
        trigger = ExecProbe(probes)
        tracers = (
            ("bpftrace one-liner", BPFTRACE),
            ("ecli run (kind bpf, cached)", [*ecli, refs["bpf"]]),
            ("ecli run (kind wasm, cached)", [*ecli, refs["wasm"]]),
            ("ecli run ./wasm_execsnoop.bpf.o", [*ecli, str(module.parent /
                                                          "wasm_execsnoop.bpf.o")]),
            ("ecli run ./execsnoop.wasm", [*ecli, str(module)]),
        )
        times: dict[str, list[float]] = {label: [] for label, _ in tracers}
        for turn in range(args.runs + 1):  # the first turn warms up
            for label, command in tracers:
                seconds = time_to_first_event(command, env, trigger)
                if turn:
                    times[label].append(seconds)
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"kernel {platform.release()}, {time.strftime('%Y-%m-%d')}, median of {args.runs}")
    print(f"| {'spawn to first exec event':<34} | seconds | vs kind bpf |")
    print(f"| {'-' * 34} | ------- | ----------- |")
    base = statistics.median(times["ecli run (kind bpf, cached)"])
    for label, _ in tracers:
        seconds = statistics.median(times[label])
        print(f"| {label:<34} | {seconds:7.3f} | {seconds / base:10.2f}x |")


if __name__ == "__main__":
    main()
