"""Shared fixtures. Real components only: the registry is CNCF distribution."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry_server import RegistryServer, running_registry

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
