"""The section catalogue against libbpf's own table: every pattern libbpf knows is
answered (program type, hook, options), and names match the way libbpf matches them.
No kernel, no subprocess."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecli.kernel import sections
from ecli.kernel.types import PROG_TYPE_VALUES

LIBBPF_TABLE = Path(__file__).with_name("libbpf_section_defs.txt")
SEC_DEF = re.compile(r'SEC_DEF\("([^"]+)",\s*(\w+),')


def libbpf_defs() -> list[tuple[str, str]]:
    """(pattern, program type) of each row of libbpf's section_defs[], in its order."""
    return [(m.group(1), m.group(2).lower()) for line in LIBBPF_TABLE.read_text().splitlines()
            if (m := SEC_DEF.search(line))]


# The options each pattern's hook needs, written out independently of the catalogue.
IFNAME = {"tc/ingress", "tc/egress", "tcx/ingress", "tcx/egress", "tc", "classifier",
          "xdp.frags", "xdp"}
PID = {"uprobe+", "uprobe.s+", "uretprobe+", "uretprobe.s+", "uprobe.multi+",
       "uretprobe.multi+", "uprobe.session+", "uprobe.multi.s+", "uretprobe.multi.s+",
       "uprobe.session.s+", "usdt+", "usdt.s+"}
FREQ = {"perf_event"}
CGROUP = {"sockops", "lsm_cgroup+", "cgroup_skb/ingress", "cgroup_skb/egress", "cgroup/skb",
          "cgroup/sock_create", "cgroup/sock_release", "cgroup/sock", "cgroup/post_bind4",
          "cgroup/post_bind6", "cgroup/bind4", "cgroup/bind6", "cgroup/connect4",
          "cgroup/connect6", "cgroup/connect_unix", "cgroup/sendmsg4", "cgroup/sendmsg6",
          "cgroup/sendmsg_unix", "cgroup/recvmsg4", "cgroup/recvmsg6", "cgroup/recvmsg_unix",
          "cgroup/getpeername4", "cgroup/getpeername6", "cgroup/getpeername_unix",
          "cgroup/getsockname4", "cgroup/getsockname6", "cgroup/getsockname_unix",
          "cgroup/sysctl", "cgroup/getsockopt", "cgroup/setsockopt", "cgroup/dev"}
# Attached by something other than ecli: loaded, never linked.
LOADED_ONLY = {"socket", "sk_reuseport/migrate", "sk_reuseport", "action", "netkit/primary",
               "netkit/peer", "freplace+", "syscall", "xdp.frags/devmap", "xdp/devmap",
               "xdp.frags/cpumap", "xdp/cpumap", "lwt_in", "lwt_out", "lwt_xmit",
               "lwt_seg6local", "sk_skb/stream_parser", "sk_skb/stream_verdict",
               "sk_skb/verdict", "sk_skb", "sk_msg", "lirc_mode2", "flow_dissector",
               "struct_ops+", "struct_ops.s+", "sk_lookup", "netfilter"}


def expected_options(pattern: str) -> tuple[str, ...]:
    return (("ifname",) if pattern in IFNAME else ("pid",) if pattern in PID
            else ("freq",) if pattern in FREQ else ("cgroup",) if pattern in CGROUP else ())


def example_names(pattern: str) -> list[str]:
    """Names libbpf matches to `pattern`: 'kprobe+' -> 'kprobe', 'kprobe/do_x'."""
    if pattern.endswith("+"):
        return [pattern[:-1], pattern[:-1] + "/do_something"]
    return [pattern]


def test_the_catalogue_has_libbpfs_patterns_in_libbpfs_order():
    assert [s.pattern for s in sections.SECTIONS] == [p for p, _t in libbpf_defs()]
    assert len(sections.SECTIONS) > 110


@pytest.mark.parametrize(("pattern", "prog_type"), libbpf_defs())
def test_every_libbpf_pattern_is_answered(pattern, prog_type):
    for name in example_names(pattern):
        found = sections.lookup(name)
        assert found is not None, name
        assert found.pattern == pattern, name
        assert found.prog_type == prog_type
        assert prog_type in PROG_TYPE_VALUES
        assert found.options == expected_options(pattern)
        assert (found.hook == "") == (pattern in LOADED_ONLY)
        assert found.capability.startswith("CAP_")
        assert found.min_kernel[0].isdigit()
        assert found.need  # what doctor checks, in words


@pytest.mark.parametrize(("name", "pattern"), [
    ("uprobe.s//bin/bash:readline", "uprobe.s+"),  # not uprobe+: '.s' is no '/'
    ("kprobe.multi/vfs_*", "kprobe.multi+"),
    ("raw_tp.w/bpf_test_finish", "raw_tp.w+"),  # analysis once called this unknown
    ("lsm.s/file_open", "lsm.s+"),  # doctor once did not know it
    ("tc/ingress", "tc/ingress"),  # not the legacy 'tc'
    ("sk_reuseport/migrate", "sk_reuseport/migrate"),
    ("cgroup/sock", "cgroup/sock"),
    ("cgroup/sock_create", "cgroup/sock_create"),
    ("xdp.frags/devmap", "xdp.frags/devmap"),
])
def test_longest_and_exact_forms_win_like_libbpf(name, pattern):
    found = sections.lookup(name)
    assert found is not None and found.pattern == pattern


@pytest.mark.parametrize("name", [
    "kprobex", "kprobe_do_x", "xdp/foo", "tc/other", "socket/1", "tracepointy/a/b",
    "sk_msg/x", "", ".text",
])
def test_names_libbpf_rejects_are_unknown(name):
    assert sections.lookup(name) is None


def test_sk_msg_is_not_a_cgroup_hook_and_sockops_is():
    assert sections.lookup("sk_msg").options == ()
    assert sections.lookup("sockops").options == ("cgroup",)


@pytest.mark.parametrize(("name", "point"), [
    ("tracepoint/syscalls/sys_enter_openat", "syscalls:sys_enter_openat"),
    ("uprobe//bin/bash:readline", "/bin/bash:readline"),
    ("usdt//usr/bin/python3:python:gc__start", "/usr/bin/python3:python:gc__start"),
    ("kprobe/do_sys_openat2", "do_sys_openat2"),
    ("tc/ingress", "ingress"),
    ("xdp", ""),
])
def test_attach_points(name, point):
    found = sections.lookup(name)
    assert found is not None and found.attach_point(name) == point


def test_sleepable_forms_are_marked():
    assert sections.lookup("lsm.s/file_open").sleepable
    assert sections.lookup("fentry.s/vfs_read").sleepable
    assert not sections.lookup("fentry/vfs_read").sleepable
    assert sections.lookup("syscall").sleepable


def test_tracefs_only_for_tracepoints_and_uprobes():
    assert sections.lookup("tracepoint/a/b").tracefs
    assert sections.lookup("uprobe//bin/true:main").tracefs
    assert not sections.lookup("raw_tp/sched_switch").tracefs
    assert not sections.lookup("xdp").tracefs
