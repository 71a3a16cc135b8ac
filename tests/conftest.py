"""Shared fixtures. Real components only: the registry is CNCF distribution.

Each fixture is defined here once; a test file that needs more (a source
added, podman's variables) overrides it by asking for this one (`def
env(env, hub)`), never by writing it out again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import textwrap
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from bpf_objects import ROOT, compile_bpf
from registry_server import RegistryServer, running_registry

BPF_SOURCES = (*sorted((ROOT / "examples").glob("*/*.bpf.c")),
               *sorted((ROOT / "tests" / "bpf").glob("*.bpf.c")))

TRACEPOINT_SOURCE = textwrap.dedent("""\
    #include "vmlinux.h"
    #include <bpf/bpf_helpers.h>

    char LICENSE[] SEC("license") = "GPL";
    const volatile int target_pid = 0;

    SEC("tracepoint/syscalls/sys_enter_openat")
    int handle_openat(void *ctx)
    {
        int pid = bpf_get_current_pid_tgid() >> 32;
        if (target_pid && pid != target_pid)
            return 0;
        return 0;
    }
    """)


@pytest.fixture(scope="session")
def registry() -> Iterator[RegistryServer]:
    """A registry on a free port of 127.0.0.1 with temp storage (.host, .storage)."""
    with running_registry() as server:
        yield server


@pytest.fixture(scope="session")
def make_bpf_project(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Write a small `ecli build` project (a tracepoint program) and return its folder."""

    def make(name: str = "tinytp", version: str = "0.1.0", source: str = TRACEPOINT_SOURCE,
             extra_toml: str = "") -> Path:
        root = tmp_path_factory.mktemp(name)
        (root / f"{name}.bpf.c").write_text(source)
        (root / "ecli.toml").write_text(textwrap.dedent(f"""\
            [package]
            name = "{name}"
            version = "{version}"
            kind = "bpf"
            description = "counts nothing, opens everything"
            source = "{name}.bpf.c"
            license = "GPL-2.0-only"

            [requirements]
            min_kernel = "5.8"
            capabilities = ["CAP_BPF", "CAP_PERFMON"]
            program_types = ["tracepoint"]

            [options.target_pid]
            flag = "pid"
            description = "trace only this process"
            """) + extra_toml)
        return root

    return make


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """ecli's environment for one test: its own state, no default source, its own docker config.

    Other runs on the machine are not ours, and no test reaches the public hub.
    """
    return {**os.environ, "ECLI_HOME": str(tmp_path / "home"), "ECLI_DEFAULT_SOURCE": "",
            "DOCKER_CONFIG": str(tmp_path / "docker")}


class CompiledObjects(Mapping[str, Path]):
    """The eBPF objects of examples/ and tests/bpf/ by name, each compiled on first use."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.sources = {source.name.removesuffix(".bpf.c"): source for source in BPF_SOURCES}
        assert len(self.sources) == len(BPF_SOURCES), "two eBPF sources share a name"
        self.compiled: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self.compiled:
            self.compiled[name] = compile_bpf(self.sources[name], self.out_dir)
        return self.compiled[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)


@pytest.fixture(scope="session")
def objects(tmp_path_factory: pytest.TempPathFactory) -> CompiledObjects:
    """Every test eBPF object, compiled once per run (and only the ones a run uses)."""
    return CompiledObjects(tmp_path_factory.mktemp("objects"))


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """Some objects keep only 48-64 bytes of a file name: open files with short paths.

    The folder is unique, so the file in it needs no unique name: touch_unique's
    names (pid and nanoseconds) grew past 47 bytes on a machine up for hours.
    """
    folder = Path(tempfile.mkdtemp(prefix="ec"))
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def veth_pair() -> Iterator[tuple[str, str]]:
    """Two network namespaces joined by a veth pair: 192.0.2.1 (here) and .2 (peer).

    TEST-NET-1 addresses, inside namespaces this test makes and removes: no
    traffic leaves them.
    """
    tag = uuid.uuid4().hex[:6]
    here, peer = f"ecli-{tag}-a", f"ecli-{tag}-b"
    commands = [
        ["ip", "netns", "add", here], ["ip", "netns", "add", peer],
        ["ip", "link", "add", "eclia", "netns", here, "type", "veth", "peer", "name", "eclib",
         "netns", peer],
        ["ip", "-n", here, "addr", "add", "192.0.2.1/24", "dev", "eclia"],
        ["ip", "-n", peer, "addr", "add", "192.0.2.2/24", "dev", "eclib"],
        ["ip", "-n", here, "link", "set", "eclia", "up"],
        ["ip", "-n", peer, "link", "set", "eclib", "up"],
    ]
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        yield here, peer
    finally:
        for namespace in (here, peer):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
