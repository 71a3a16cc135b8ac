"""A synthetic hub index: N packages x 5 versions, with lock and inspections (offline).

Used by bench/hub_build.py and bench/hub_search.py (and by the browser test at
a small N). Deterministic for a given N and seed: names, summaries, keywords,
markdown descriptions, owners, platforms and permissions are drawn from small
vocabularies, like a real hub's long tail of tools.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STEMS = ("open", "exec", "tcp", "udp", "bio", "disk", "cpu", "mem", "oom", "sig", "file",
         "sock", "dns", "http", "tls", "sched", "run", "page", "slab", "irq", "net", "xdp",
         "cgroup", "kvm", "nfs", "ext4", "btrfs", "zfs", "vfs", "mount", "cap", "bind",
         "sys", "lock", "futex", "mutex", "wake", "off", "llc", "cache", "numa", "hard",
         "soft", "gpu", "usb", "pci", "blk", "io", "uring", "ssl", "ssh", "bash", "java",
         "python", "node", "ruby", "go", "rust", "php", "mysql", "redis", "pg", "kafka")
TAILS = ("snoop", "top", "stat", "lat", "dist", "trace", "slower", "count", "watch", "life",
         "probe", "filter", "guard", "drop", "limit", "audit", "spy", "scope", "flow", "map",
         "dump", "hist", "rate", "leak", "prof", "kill", "block", "shield", "meter", "log")
VERBS = ("Trace", "Count", "Summarize", "Show", "Watch", "Measure", "Filter", "Drop",
         "Record", "Profile", "Audit", "Block", "Limit", "Histogram of", "Sample")
OBJECTS = ("open() system calls", "new processes", "TCP connections", "block I/O latency",
           "CPU scheduler run queue latency", "page faults", "DNS queries", "TLS handshakes",
           "file system operations", "signals sent between processes", "memory allocations",
           "out-of-memory kills", "mount and umount calls", "packets on an interface",
           "cgroup resource usage", "lock contention", "off-CPU time", "HTTP requests",
           "disk reads and writes", "interrupt handling time", "bash commands typed",
           "capability checks", "socket binds", "futex waits", "slab allocations")
QUALIFIERS = ("per process", "with stack traces", "by container", "system-wide",
              "with latency histograms", "as JSON lines", "with filters by PID",
              "at low overhead", "using ring buffers", "with per-CPU maps")
KEYWORDS = ("trace", "latency", "syscall", "network", "file", "process", "cpu", "memory",
            "disk", "io", "security", "container", "kubernetes", "tcp", "udp", "dns",
            "tls", "scheduler", "profiling", "histogram", "signal", "lsm", "xdp", "tc",
            "cgroup", "audit", "performance", "debug", "kernel", "uprobe")
CATEGORIES = ("observability", "security", "networking", "performance", "profiling",
              "debugging", "storage", "scheduling", "containers", "other")
KINDS = ("bpf", "bpf", "bpf", "bundle", "image")
PERMISSIONS = (("observe-kernel", "info", "observes kernel events"),
               ("read-kernel-memory", "elevated", "reads kernel memory"),
               ("network-hook", "elevated", "hooks a network interface"),
               ("send-signal", "dangerous", "sends signals to processes"),
               ("write-user-memory", "dangerous", "writes into the memory of processes"))


def names(count: int, rng: random.Random) -> list[str]:
    """Distinct names that do not look alike (the index refuses look-alikes)."""
    from generator.validate import skeleton

    seen: set[str] = set()
    out = []
    while len(out) < count:
        stem, tail = rng.choice(STEMS), rng.choice(TAILS)
        name = rng.choice((f"{stem}{tail}", f"{stem}-{tail}", f"{stem}{tail}"))
        if skeleton(name) in seen:
            name = f"{name}-x{len(out)}"
        seen.add(skeleton(name))
        out.append(name)
    return out


def write(root: Path, count: int, versions: int = 5, seed: int = 7) -> Path:
    """Write ROOT/index (packages, schema, featured, lock, inspection, stats.json)."""
    rng = random.Random(seed)
    index = root / "index"
    shutil.rmtree(index, ignore_errors=True)
    (index / "packages").mkdir(parents=True)
    shutil.copytree(REPO / "index" / "schema", index / "schema")
    lock: dict[str, dict[str, dict[str, str]]] = {}
    inspected: dict[str, dict[str, object]] = {}
    downloads: dict[str, int] = {}
    all_names = names(count, rng)
    for number, name in enumerate(all_names):
        kind = rng.choice(KINDS)
        summary = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(QUALIFIERS)}"
        keywords = sorted(set(rng.sample(KEYWORDS, rng.randint(2, 5))))
        categories = sorted(set(rng.sample(CATEGORIES, rng.randint(1, 2))))
        owners = [f"dev{rng.randrange(max(count // 5, 1))}"]
        description = (
            f"`{name}` {summary[0].lower()}{summary[1:]}.\\n\\n"
            f"It prints one line per event and a summary at exit.\\n\\n"
            f"```sh\\nsudo ecli run {name} --duration 10\\n```\\n\\n"
            f"- works on kernels with BTF\\n- needs root or CAP_BPF\\n")
        lines = [f"name: {name}", f"kind: {kind}", f'summary: "{summary}"',
                 f'description: "{description}"', f"owners: [{', '.join(owners)}]",
                 "license: GPL-2.0-only", f"homepage: https://example.org/{name}",
                 f"keywords: [{', '.join(keywords)}]",
                 f"categories: [{', '.join(categories)}]", "versions:"]
        lock[name] = {}
        for minor in reversed(range(versions)):  # newest first
            version = f"1.{minor}.0"
            ref = f"ghcr.io/{owners[0]}/{name}:{version}"
            digest = "sha256:" + hashlib.sha256(f"{name}{version}".encode()).hexdigest()
            lines.append(f"  - version: {version}")
            lines.append(f"    ref: {ref}")
            day = 1 + (number * versions + minor) % 28
            lock[name][version] = {"ref": ref, "digest": digest,
                                   "resolved": f"2026-{1 + minor:02d}-{day:02d}T00:00:00Z"}
            if kind != "image":
                inspected[digest] = _inspection(rng, digest)
        (index / "packages" / f"{name}.yaml").write_text("\n".join(lines) + "\n")
        if rng.random() < 0.3:
            downloads[name] = rng.randrange(1, 100_000)
    (index / "featured.yaml").write_text(
        "featured:\n" + "".join(f"  - {n}\n" for n in all_names[:6]))
    (index / "lock.json").write_text(json.dumps(
        {"schema_version": 1, "packages": lock}, indent=1, sort_keys=True))
    (index / "inspection.json").write_text(json.dumps(
        {"schema_version": 1, "digests": inspected}, indent=1, sort_keys=True))
    (root / "stats.json").write_text(json.dumps({"schema_version": 1, "downloads": downloads}))
    return index


def _inspection(rng: random.Random, digest: str) -> dict[str, object]:
    arches = rng.choice((["amd64"], ["amd64", "arm64"], ["amd64", "arm64"]))
    permissions = [PERMISSIONS[0], *rng.sample(PERMISSIONS[1:], rng.randint(0, 2))]
    return {
        "platforms": [{"os": "linux", "architecture": a, "digest": digest} for a in arches],
        "inspection": {
            "programs": [{"section": "tracepoint/syscalls/sys_enter_openat",
                          "type": "tracepoint", "attach": "syscalls:sys_enter_openat"}],
            "maps": [{"name": "events", "type": "ringbuf"}],
            "helpers": ["bpf_get_current_pid_tgid", "bpf_ringbuf_output"],
            "license": "GPL", "min_kernel": "5.8", "capabilities": ["CAP_BPF", "CAP_PERFMON"],
            "permissions": [{"id": i, "level": lv, "text": t} for i, lv, t in permissions],
            "size": 20_000,
        },
    }
