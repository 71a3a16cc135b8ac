"""Program and map types by value (enum bpf_prog_type, enum bpf_map_type), and the
kernel release that added each: the one table for names in messages, doctor's
probes and the hub's minimum kernel. Values follow include/uapi/linux/bpf.h.
"""

from __future__ import annotations

# (name, release that added it), indexed by the enum's value.
PROG_TYPES: tuple[tuple[str, str], ...] = (
    ("unspec", "3.19"), ("socket_filter", "3.19"), ("kprobe", "4.1"), ("sched_cls", "4.1"),
    ("sched_act", "4.1"), ("tracepoint", "4.7"), ("xdp", "4.8"), ("perf_event", "4.9"),
    ("cgroup_skb", "4.10"), ("cgroup_sock", "4.10"), ("lwt_in", "4.10"), ("lwt_out", "4.10"),
    ("lwt_xmit", "4.10"), ("sock_ops", "4.13"), ("sk_skb", "4.14"), ("cgroup_device", "4.15"),
    ("sk_msg", "4.17"), ("raw_tracepoint", "4.17"), ("cgroup_sock_addr", "4.17"),
    ("lwt_seg6local", "4.18"), ("lirc_mode2", "4.18"), ("sk_reuseport", "4.19"),
    ("flow_dissector", "4.20"), ("cgroup_sysctl", "5.2"), ("raw_tracepoint_writable", "5.2"),
    ("cgroup_sockopt", "5.3"), ("tracing", "5.5"), ("struct_ops", "5.6"), ("ext", "5.6"),
    ("lsm", "5.7"), ("sk_lookup", "5.9"), ("syscall", "5.14"), ("netfilter", "6.4"),
)
MAP_TYPES: tuple[tuple[str, str], ...] = (
    ("unspec", "3.19"), ("hash", "3.19"), ("array", "3.19"), ("prog_array", "4.2"),
    ("perf_event_array", "4.3"), ("percpu_hash", "4.6"), ("percpu_array", "4.6"),
    ("stack_trace", "4.6"), ("cgroup_array", "4.8"), ("lru_hash", "4.10"),
    ("lru_percpu_hash", "4.10"), ("lpm_trie", "4.11"), ("array_of_maps", "4.12"),
    ("hash_of_maps", "4.12"), ("devmap", "4.14"), ("sockmap", "4.14"), ("cpumap", "4.15"),
    ("xskmap", "4.18"), ("sockhash", "4.18"), ("cgroup_storage", "4.19"),
    ("reuseport_sockarray", "4.19"), ("percpu_cgroup_storage", "4.20"), ("queue", "4.20"),
    ("stack", "4.20"), ("sk_storage", "5.2"), ("devmap_hash", "5.4"), ("struct_ops", "5.6"),
    ("ringbuf", "5.8"), ("inode_storage", "5.10"), ("task_storage", "5.11"),
    ("bloom_filter", "5.16"), ("user_ringbuf", "6.1"), ("cgrp_storage", "6.2"),
    ("arena", "6.9"),
)
PROG_TYPE_VALUES = {name: value for value, (name, _release) in enumerate(PROG_TYPES)}
MAP_TYPE_VALUES = {name: value for value, (name, _release) in enumerate(MAP_TYPES)}
MAP_PERF_EVENT_ARRAY = MAP_TYPE_VALUES["perf_event_array"]
MAP_STACK_TRACE = MAP_TYPE_VALUES["stack_trace"]
MAP_RINGBUF = MAP_TYPE_VALUES["ringbuf"]


def prog_type_name(value: int) -> str | None:
    """'kprobe' for 2; None for a value newer than this table (or negative)."""
    return PROG_TYPES[value][0] if 0 <= value < len(PROG_TYPES) else None


def map_type_name(value: int) -> str | None:
    return MAP_TYPES[value][0] if 0 <= value < len(MAP_TYPES) else None


def prog_type_release(name: str) -> str:
    return PROG_TYPES[PROG_TYPE_VALUES[name]][1]


def map_type_release(value: int) -> str | None:
    return MAP_TYPES[value][1] if 0 <= value < len(MAP_TYPES) else None
