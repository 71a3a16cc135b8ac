"""Every SEC() name libbpf knows, answered the same way by `ecli inspect`, `ecli doctor
OBJECT` and `ecli run OBJECT -h`, as the catalogue says; and run for real where this
kernel can attach it.

Objects are compiled by clang from programs that just return (a value that lets
everything pass) under each section name: one object holding them all (for inspect
and doctor) and one per section (for the attach options `run -h` offers, which are
the union over an object's programs).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecli.kernel import sections
from ecli.kernel.system import cgroup2_root

from bpf_objects import compile_bpf
from ecli_process import run_ecli

# An attach target for each hook family, so that a section name reads like a real one.
TARGETS = {
    "tracepoint": "syscalls/sys_enter_getpid", "raw_tracepoint": "sched_switch",
    "kprobe": "do_sys_openat2", "uprobe": "/bin/bash:readline",
    "usdt": "/bin/bash:provider:probe", "tracing": "sched_switch", "lsm": "file_open",
    "iter": "task", "": "target", "cgroup": "socket_post_create",
}
FLAGS = {"ifname": "--ifname", "pid": "--pid", "cgroup": "--cgroup", "freq": "--freq"}
# What each program returns: let everything pass (XDP_PASS, TC_ACT_OK; 1 is "allow" for
# cgroup hooks), so a run on lo or in a cgroup disturbs nothing on the machine.
RETURNS = {"xdp": 2, "sched_cls": 0, "sched_act": 0}
PROGRAM = 'SEC("{name}") int prog_{index}(void *ctx) {{ return {value}; }}\n'
HEADER = ('#define SEC(name) __attribute__((section(name), used))\n'
          'char LICENSE[] SEC("license") = "GPL";\n')


def section_name(section: sections.Section) -> str:
    """A name libbpf matches to `section`: 'kprobe/do_sys_openat2', 'tc/ingress'."""
    if not section.pattern.endswith("+"):
        return section.pattern
    base = section.pattern[:-1]
    target = "sched_switch" if base.startswith("tp_btf") else TARGETS[section.hook]
    return f"{base}/{target}"


NAMES = {section_name(s): s for s in sections.SECTIONS}


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sections")


def compile_programs(build: Path, stem: str, names: list[str]) -> Path:
    source = build / f"{stem}.bpf.c"
    source.write_text(HEADER + "".join(
        PROGRAM.format(name=n, index=i, value=RETURNS.get(NAMES[n].prog_type, 1))
        for i, n in enumerate(names)))
    return compile_bpf(source, build)


@pytest.fixture(scope="module")
def everything(build: Path) -> Path:
    return compile_programs(build, "all_sections", list(NAMES))


@pytest.fixture(scope="module")
def one_each(build: Path) -> dict[str, Path]:
    return {name: compile_programs(build, f"s{i}", [name]) for i, name in enumerate(NAMES)}


def test_inspect_gives_each_section_the_catalogues_kind(everything):
    result = run_ecli("inspect", "--json", str(everything))
    assert result.returncode == 0, result.stderr
    (obj,) = json.loads(result.stdout)["objects"]
    kinds = {p["section"]: (p["type"], p["attach"]) for p in obj["programs"]}
    assert set(kinds) == set(NAMES)
    for name, section in NAMES.items():
        assert kinds[name] == (section.kind, section.attach_point(name)), name


def test_doctor_needs_what_the_catalogue_names_for_each_section(everything):
    result = run_ecli("doctor", str(everything), "--json")
    assert result.returncode in (0, 1), result.stderr
    needs = {check["name"]: check for check in json.loads(result.stdout)["package"]["requirements"]}
    for name, section in NAMES.items():
        check = needs.get(f"{section.need} (section {name})")
        assert check is not None, name
        if section.feature in ("kprobe", "fentry"):  # this kernel has neither
            assert check["ok"] is False, name


def test_run_help_offers_exactly_the_catalogues_attach_options(one_each):
    for name, section in NAMES.items():
        result = run_ecli("run", str(one_each[name]), "-h")
        assert result.returncode == 0, (name, result.stderr)
        offered = {field for field, flag in FLAGS.items()
                   if re.search(rf"^\s+{flag}\b", result.stdout, re.MULTILINE)}
        assert offered == set(section.options), name


@pytest.fixture
def cgroup() -> Iterator[Path]:
    group = Path(cgroup2_root()) / f"ecli-sections-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    yield group
    group.rmdir()


# Sections this kernel (and the host's libbpf 1.1) can attach or load, with the options
# they need. kprobes and fentry are absent here; names libbpf 1.1 does not know beyond
# a program type (netkit, *_unix, sleepable tracepoints, ...) are left to newer hosts.
RUNNABLE = [
    "tracepoint/syscalls/sys_enter_getpid", "tp/syscalls/sys_enter_getpid",
    "raw_tracepoint/sched_switch", "raw_tp/sched_switch", "tp_btf/sched_switch",
    "uprobe//bin/bash:readline", "uretprobe//bin/bash:readline",
    "xdp", "tc", "classifier", "tc/ingress", "tc/egress", "tcx/ingress", "tcx/egress",
    "perf_event", "cgroup_skb/ingress", "cgroup_skb/egress", "cgroup/skb",
    "cgroup/sock_create", "cgroup/sock_release", "cgroup/sock", "cgroup/post_bind4",
    "cgroup/bind4", "cgroup/connect4", "cgroup/connect6", "cgroup/sendmsg4",
    "cgroup/recvmsg4", "cgroup/getpeername4", "cgroup/getsockname4", "cgroup/sysctl",
    "cgroup/getsockopt", "cgroup/setsockopt", "cgroup/dev", "sockops",
    # loaded and kept loaded: something else attaches these
    "socket", "sk_msg", "sk_skb", "sk_skb/stream_parser", "sk_skb/stream_verdict",
    "sk_reuseport", "flow_dissector", "sk_lookup", "lwt_in", "lwt_out", "lwt_xmit",
    "action", "xdp/devmap", "xdp/cpumap",
]


@pytest.mark.parametrize("name", RUNNABLE)
def test_sections_this_kernel_attaches_run_for_real(one_each, cgroup, name):
    section = NAMES[name]
    values = {"ifname": "lo", "pid": str(os.getpid()), "cgroup": str(cgroup), "freq": "10"}
    options = [arg for field in section.options for arg in (FLAGS[field], values[field])]
    result = run_ecli("run", str(one_each[name]), "--duration", "0.3", *options)
    assert result.returncode == 0, (name, result.stderr)
    assert "1 program(s) attached" in result.stderr, (name, result.stderr)
