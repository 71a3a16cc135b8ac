"""The catalogue of SEC() names: what each section of an eBPF object is and how it attaches.

The one place that maps a section name to its program type, its hook family
(how ecli attaches it), the options that hook needs (`--ifname`, `--cgroup`,
`--pid`, `--freq`), the capability it implies, the oldest kernel that runs
it, whether it needs tracefs and which kernel feature doctor must probe for
it. `spec`, `options`, `analysis`, `probe` (doctor), the loader and the
attach hooks all read it; nothing else keeps section rules.

The patterns and their order are libbpf's own `section_defs[]` (src/libbpf.c,
read at libbpf/libbpf@f7081a6b), matched the way libbpf matches them: the
first entry that matches wins; `name+` matches `name` exactly or `name/...`;
any other pattern matches exactly. The host's libbpf (1.1) knows fewer of
them; the loader gives the others their program type from here.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from ecli.kernel.types import prog_type_release

# hook family -> the AttachSettings fields (command-line options) it needs
HOOK_OPTIONS: dict[str, tuple[str, ...]] = {
    "xdp": ("ifname",), "tc": ("ifname",), "uprobe": ("pid",), "usdt": ("pid",),
    "cgroup": ("cgroup",), "perf_event": ("freq",),
}
# what a uprobe whose section names no target (SEC("uprobe")) needs besides: the user
# names the binary and the function to probe (`--binary`, `--symbol`)
TARGET_OPTIONS = ("binary", "symbol")
# kernel features that doctor probes (beyond the program type), in words
FEATURES: dict[str, str] = {
    "kprobe": "kprobes", "fentry": "fentry/fexit (BPF trampolines)", "lsm": "BPF LSM",
    "uprobe": "uprobes",
    "tracepoint": "tracepoints", "raw_tracepoint": "raw tracepoints", "xdp": "XDP",
    "tc": "tc (clsact, tcx)", "cgroup": "cgroup hooks", "perf_event": "perf events",
}
_HOOK_FEATURES = {"kprobe": "kprobe", "lsm": "lsm", "uprobe": "uprobe", "usdt": "uprobe",
                  "tracepoint": "tracepoint", "raw_tracepoint": "raw_tracepoint", "xdp": "xdp",
                  "tc": "tc", "cgroup": "cgroup", "perf_event": "perf_event"}
_TRACEFS_HOOKS = ("tracepoint", "uprobe", "usdt")
_CAPABILITIES = {
    "socket_filter": "CAP_NET_RAW", "kprobe": "CAP_PERFMON", "tracepoint": "CAP_PERFMON",
    "perf_event": "CAP_PERFMON", "raw_tracepoint": "CAP_PERFMON",
    "raw_tracepoint_writable": "CAP_PERFMON", "tracing": "CAP_PERFMON",
    "lsm": "CAP_SYS_ADMIN", "struct_ops": "CAP_SYS_ADMIN", "ext": "CAP_SYS_ADMIN",
    "syscall": "CAP_SYS_ADMIN", "cgroup_device": "CAP_SYS_ADMIN",
    "cgroup_sysctl": "CAP_SYS_ADMIN",
}  # any other program type: CAP_NET_ADMIN


class Section(NamedTuple):
    """One of libbpf's section patterns and everything ecli needs to know about it.
    (A NamedTuple: the catalogue is read on every `ecli run`, and defines cheaply.)"""

    pattern: str  # libbpf's spelling: 'kprobe+', 'tc/ingress', 'xdp'
    prog_type: str  # enum bpf_prog_type, lower case without the prefix: 'sched_cls'
    kind: str  # the hub's name for it, finer than the program type: 'uprobe', 'tc'
    hook: str  # hook family ecli attaches it with; '' when something else attaches it
    capability: str
    min_kernel: str
    feature: str = ""  # key of FEATURES doctor must probe, '' when the program type says it
    sleepable: bool = False

    @property
    def options(self) -> tuple[str, ...]:
        """The AttachSettings fields (`--ifname`, `--pid`, ...) attaching it needs."""
        return HOOK_OPTIONS.get(self.hook, ())

    def options_for(self, name: str) -> tuple[str, ...]:
        """The AttachSettings fields attaching the section `name` needs: the hook's, and the
        binary and symbol for a plain uprobe whose name leaves the target to the user."""
        if self.kind == "uprobe" and not self.attach_point(name):
            return self.options + TARGET_OPTIONS
        return self.options

    @property
    def tracefs(self) -> bool:
        return self.hook in _TRACEFS_HOOKS

    @property
    def need(self) -> str:
        """What doctor checks for it, in words: a feature, else the program type."""
        return FEATURES[self.feature] if self.feature else f"program type {self.prog_type}"

    def matches(self, name: str) -> bool:
        if self.pattern.endswith("+"):
            base = self.pattern[:-1]
            return name == base or name.startswith(base + "/")
        return name == self.pattern

    def attach_point(self, name: str) -> str:
        """What the name says to attach to: 'syscalls:sys_enter_openat', 'do_sys_openat2'."""
        point = (name[len(self.pattern) - 1:].removeprefix("/") if self.pattern.endswith("+")
                 else name.partition("/")[2])
        return point.replace("/", ":", 1) if self.hook == "tracepoint" else point


def _def(pattern: str, prog_type: str, hook: str, *, kind: str = "", min_kernel: str = "",
         feature: str | None = None, capability: str = "") -> Section:
    return Section(
        pattern=pattern, prog_type=prog_type, kind=kind or prog_type, hook=hook,
        capability=capability or _CAPABILITIES.get(prog_type, "CAP_NET_ADMIN"),
        min_kernel=min_kernel or prog_type_release(prog_type),
        feature=_HOOK_FEATURES.get(hook, "") if feature is None else feature,
        sleepable=".s+" in pattern or pattern.endswith(".s") or prog_type == "syscall")


def _fentry(pattern: str, min_kernel: str, kind: str = "tracing",
            capability: str = "") -> Section:
    return _def(pattern, "tracing", "tracing", kind=kind, min_kernel=min_kernel,
                feature="fentry", capability=capability)


_ADMIN = "CAP_SYS_ADMIN"
SECTIONS: tuple[Section, ...] = (
    _def("socket", "socket_filter", ""),
    _def("sk_reuseport/migrate", "sk_reuseport", "", min_kernel="5.14"),
    _def("sk_reuseport", "sk_reuseport", ""),
    _def("kprobe+", "kprobe", "kprobe"),
    _def("uprobe+", "kprobe", "uprobe", kind="uprobe", min_kernel="4.3"),
    _def("uprobe.s+", "kprobe", "uprobe", kind="uprobe", min_kernel="6.0"),
    _def("kretprobe+", "kprobe", "kprobe"),
    _def("uretprobe+", "kprobe", "uprobe", kind="uprobe", min_kernel="4.3"),
    _def("uretprobe.s+", "kprobe", "uprobe", kind="uprobe", min_kernel="6.0"),
    _def("kprobe.multi+", "kprobe", "kprobe", kind="kprobe_multi", min_kernel="5.18"),
    _def("kretprobe.multi+", "kprobe", "kprobe", kind="kprobe_multi", min_kernel="5.18"),
    _def("kprobe.session+", "kprobe", "kprobe", kind="kprobe_multi", min_kernel="6.10"),
    _def("uprobe.multi+", "kprobe", "uprobe", kind="uprobe_multi", min_kernel="6.6"),
    _def("uretprobe.multi+", "kprobe", "uprobe", kind="uprobe_multi", min_kernel="6.6"),
    _def("uprobe.session+", "kprobe", "uprobe", kind="uprobe_multi", min_kernel="6.13"),
    _def("uprobe.multi.s+", "kprobe", "uprobe", kind="uprobe_multi", min_kernel="6.6"),
    _def("uretprobe.multi.s+", "kprobe", "uprobe", kind="uprobe_multi", min_kernel="6.6"),
    _def("uprobe.session.s+", "kprobe", "uprobe", kind="uprobe_multi", min_kernel="6.13"),
    _def("ksyscall+", "kprobe", "kprobe"),
    _def("kretsyscall+", "kprobe", "kprobe"),
    _def("usdt+", "kprobe", "usdt", kind="usdt", min_kernel="4.3"),
    _def("usdt.s+", "kprobe", "usdt", kind="usdt", min_kernel="6.0"),
    _def("tc/ingress", "sched_cls", "tc", kind="tc", min_kernel="6.6"),  # tcx aliases
    _def("tc/egress", "sched_cls", "tc", kind="tc", min_kernel="6.6"),
    _def("tcx/ingress", "sched_cls", "tc", kind="tc", min_kernel="6.6"),
    _def("tcx/egress", "sched_cls", "tc", kind="tc", min_kernel="6.6"),
    _def("tc", "sched_cls", "tc", kind="tc"),  # legacy clsact: ecli attaches it with tcx
    _def("classifier", "sched_cls", "tc", kind="tc"),
    _def("action", "sched_act", "", kind="tc_action"),
    _def("netkit/primary", "sched_cls", "", kind="netkit", min_kernel="6.7"),
    _def("netkit/peer", "sched_cls", "", kind="netkit", min_kernel="6.7"),
    _def("tracepoint+", "tracepoint", "tracepoint"),
    _def("tp+", "tracepoint", "tracepoint"),
    _def("tracepoint.s+", "tracepoint", "tracepoint", min_kernel="6.14"),
    _def("tp.s+", "tracepoint", "tracepoint", min_kernel="6.14"),
    _def("raw_tracepoint+", "raw_tracepoint", "raw_tracepoint"),
    _def("raw_tp+", "raw_tracepoint", "raw_tracepoint"),
    _def("raw_tracepoint.s+", "raw_tracepoint", "raw_tracepoint", min_kernel="6.14"),
    _def("raw_tp.s+", "raw_tracepoint", "raw_tracepoint", min_kernel="6.14"),
    _def("raw_tracepoint.w+", "raw_tracepoint_writable", "raw_tracepoint"),
    _def("raw_tp.w+", "raw_tracepoint_writable", "raw_tracepoint"),
    _def("tp_btf+", "tracing", "tracing", feature=""),
    _def("tp_btf.s+", "tracing", "tracing", min_kernel="6.14", feature=""),
    _fentry("fentry+", "5.5"),
    _fentry("fmod_ret+", "5.7", kind="tracing_fmod_ret", capability=_ADMIN),
    _fentry("fexit+", "5.5"),
    _fentry("fentry.s+", "5.10"),
    _fentry("fmod_ret.s+", "5.10", kind="tracing_fmod_ret", capability=_ADMIN),
    _fentry("fexit.s+", "5.10"),
    _fentry("fsession+", "6.19"),  # tracing sessions and multi-function trampolines:
    _fentry("fsession.s+", "6.19"),  # newest libbpf, newest kernels
    _fentry("fsession.multi+", "6.19"),
    _fentry("fsession.multi.s+", "6.19"),
    _fentry("fentry.multi+", "6.19"),
    _fentry("fexit.multi+", "6.19"),
    _fentry("fentry.multi.s+", "6.19"),
    _fentry("fexit.multi.s+", "6.19"),
    _def("freplace+", "ext", ""),  # replaces a function of another loaded program
    _def("lsm+", "lsm", "lsm"),
    _def("lsm.s+", "lsm", "lsm", min_kernel="5.11"),
    _def("lsm_cgroup+", "lsm", "cgroup", min_kernel="6.0", feature=""),
    _def("iter+", "tracing", "iter", kind="tracing_iter", min_kernel="5.8"),
    _def("iter.s+", "tracing", "iter", kind="tracing_iter", min_kernel="5.18"),
    _def("syscall", "syscall", ""),  # run on demand (BPF_PROG_RUN), never attached
    _def("xdp.frags/devmap", "xdp", "", min_kernel="5.18"),  # run from a devmap/cpumap entry
    _def("xdp/devmap", "xdp", "", min_kernel="5.8"),
    _def("xdp.frags/cpumap", "xdp", "", min_kernel="5.18"),
    _def("xdp/cpumap", "xdp", "", min_kernel="5.9"),
    _def("xdp.frags", "xdp", "xdp", min_kernel="5.18"),
    _def("xdp", "xdp", "xdp"),
    _def("perf_event", "perf_event", "perf_event"),
    _def("lwt_in", "lwt_in", ""),  # attached by routes (ip route ... encap bpf)
    _def("lwt_out", "lwt_out", ""),
    _def("lwt_xmit", "lwt_xmit", ""),
    _def("lwt_seg6local", "lwt_seg6local", ""),
    _def("sockops", "sock_ops", "cgroup"),  # BPF_CGROUP_SOCK_OPS: a cgroup hook
    _def("sk_skb/stream_parser", "sk_skb", ""),  # sk_skb and sk_msg attach to a sockmap
    _def("sk_skb/stream_verdict", "sk_skb", ""),
    _def("sk_skb/verdict", "sk_skb", "", min_kernel="5.16"),
    _def("sk_skb", "sk_skb", ""),
    _def("sk_msg", "sk_msg", ""),
    _def("lirc_mode2", "lirc_mode2", ""),  # attaches to a /dev/lircN device
    _def("flow_dissector", "flow_dissector", ""),  # attaches to a network namespace
    _def("cgroup_skb/ingress", "cgroup_skb", "cgroup"),
    _def("cgroup_skb/egress", "cgroup_skb", "cgroup"),
    _def("cgroup/skb", "cgroup_skb", "cgroup"),
    _def("cgroup/sock_create", "cgroup_sock", "cgroup"),
    _def("cgroup/sock_release", "cgroup_sock", "cgroup", min_kernel="5.9"),
    _def("cgroup/sock", "cgroup_sock", "cgroup"),
    _def("cgroup/post_bind4", "cgroup_sock", "cgroup", min_kernel="4.17"),
    _def("cgroup/post_bind6", "cgroup_sock", "cgroup", min_kernel="4.17"),
    _def("cgroup/bind4", "cgroup_sock_addr", "cgroup"),
    _def("cgroup/bind6", "cgroup_sock_addr", "cgroup"),
    _def("cgroup/connect4", "cgroup_sock_addr", "cgroup"),
    _def("cgroup/connect6", "cgroup_sock_addr", "cgroup"),
    _def("cgroup/connect_unix", "cgroup_sock_addr", "cgroup", min_kernel="6.7"),
    _def("cgroup/sendmsg4", "cgroup_sock_addr", "cgroup", min_kernel="4.18"),
    _def("cgroup/sendmsg6", "cgroup_sock_addr", "cgroup", min_kernel="4.18"),
    _def("cgroup/sendmsg_unix", "cgroup_sock_addr", "cgroup", min_kernel="6.7"),
    _def("cgroup/recvmsg4", "cgroup_sock_addr", "cgroup", min_kernel="5.2"),
    _def("cgroup/recvmsg6", "cgroup_sock_addr", "cgroup", min_kernel="5.2"),
    _def("cgroup/recvmsg_unix", "cgroup_sock_addr", "cgroup", min_kernel="6.7"),
    _def("cgroup/getpeername4", "cgroup_sock_addr", "cgroup", min_kernel="5.8"),
    _def("cgroup/getpeername6", "cgroup_sock_addr", "cgroup", min_kernel="5.8"),
    _def("cgroup/getpeername_unix", "cgroup_sock_addr", "cgroup", min_kernel="6.7"),
    _def("cgroup/getsockname4", "cgroup_sock_addr", "cgroup", min_kernel="5.8"),
    _def("cgroup/getsockname6", "cgroup_sock_addr", "cgroup", min_kernel="5.8"),
    _def("cgroup/getsockname_unix", "cgroup_sock_addr", "cgroup", min_kernel="6.7"),
    _def("cgroup/sysctl", "cgroup_sysctl", "cgroup"),
    _def("cgroup/getsockopt", "cgroup_sockopt", "cgroup"),
    _def("cgroup/setsockopt", "cgroup_sockopt", "cgroup"),
    _def("cgroup/dev", "cgroup_device", "cgroup"),
    _def("struct_ops+", "struct_ops", ""),  # attached through its struct_ops map
    _def("struct_ops.s+", "struct_ops", "", min_kernel="5.18"),
    _def("sk_lookup", "sk_lookup", ""),  # attaches to a network namespace
    _def("netfilter", "netfilter", ""),  # needs a protocol family and hook number
)


@functools.cache
def lookup(name: str) -> Section | None:
    """The catalogue entry libbpf would pick for section `name`; None for one it rejects.
    (Cached: loading, options, analysis and attaching all ask about the same names.)"""
    return next((section for section in SECTIONS if section.matches(name)), None)
