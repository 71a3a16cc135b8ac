"""Kernel features a program type alone does not promise, probed for real.

kprobes (their PMU or tracefs's kprobe_events), BPF trampolines (fentry,
fexit, fmod_ret and LSM programs: a real fentry program loaded and linked)
and the BPF LSM (built in, active among the kernel's LSMs, and a real LSM
program loaded and linked). Doctor reports them (`probe`); the loader and the
attach layer ask `lacking` when loading or attaching a program failed, so the
error names what the kernel lacks instead of an errno. Everything probed is
closed again at once.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ecli.kernel.sections import Section
from ecli.runtime import libbpf

EVENT_SOURCES = Path("/sys/bus/event_source/devices")
ACTIVE_LSMS = Path("/sys/kernel/security/lsm")  # securityfs, when mounted

# The raw bpf(2) interface, for the fentry probe (libbpf 1.1 cannot be told the BTF id).
SYS_BPF = {"x86_64": 321, "aarch64": 280}
BPF_PROG_LOAD, BPF_LINK_CREATE = 5, 28
BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY = 26, 24
BPF_PROG_TYPE_LSM, BPF_LSM_MAC = 29, 27
# lsm_list_modules(2) (kernel 6.8): the active LSMs without securityfs
SYS_LSM_LIST_MODULES = {"x86_64": 461, "aarch64": 461}
# its LSM_ID_* (include/uapi/linux/lsm.h) -> the names /sys/kernel/security/lsm uses
LSM_IDS = {100: "capability", 101: "selinux", 102: "smack", 103: "tomoyo", 104: "apparmor",
           105: "yama", 106: "loadpin", 107: "safesetid", 108: "lockdown", 109: "bpf",
           110: "landlock", 111: "ima", 112: "evm", 113: "ipe"}
BTF_KIND_FUNC = 12
ENOTSUPP = 524  # the kernel's internal "not supported", which leaks to user space
# union bpf_attr for BPF_PROG_LOAD, up to log_true_size (offsets from the uapi header):
# prog_type@0 insn_cnt@4 insns@8 license@16 log_level@24 log_size@28 log_buf@32
# kern_version@40 prog_flags@44 prog_name[16]@48 prog_ifindex@64 expected_attach_type@68
# prog_btf_fd@72 func_info_rec_size@76 func_info@80 func_info_cnt@88
# line_info_rec_size@92 line_info@96 line_info_cnt@104 attach_btf_id@108
# attach_btf_obj_fd@112 core_relo_cnt@116 fd_array@120 core_relos@128
# core_relo_rec_size@136 log_true_size@140
PROG_LOAD_ATTR = struct.Struct("<IIQQIIQII16sIIIIQIIQIIIIQQII")
# union bpf_attr for BPF_LINK_CREATE: prog_fd@0 target_fd@4 attach_type@8 flags@12,
# then per-type fields (all zero for a tracing link).
LINK_CREATE_ATTR = struct.Struct("<IIII48x")
# r0 = 0; exit: the smallest program the verifier accepts.
RETURN_ZERO = bytes([0xB7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
FENTRY_TARGETS = ("bpf_fentry_test1", "do_sys_openat2", "vfs_read")
LSM_PROBE_HOOK = "bpf_lsm_file_open"  # in the kernel's BTF only with CONFIG_BPF_LSM


@dataclass(frozen=True)
class Check:
    """One line of the report: available (True/False), or unknown (None), and why."""

    name: str
    ok: bool | None
    detail: str = ""


def lacking(found: Section) -> str | None:
    """What this kernel lacks that programs of `found`'s section need, in words, or None
    when nothing is known to be missing (then the failure has another cause)."""
    if found.feature == "kprobe":
        if event_source("kprobe").ok is False:
            return "this kernel has no kprobe support (CONFIG_KPROBES, CONFIG_KPROBE_EVENTS)"
        return None
    if found.hook == "lsm":
        return _lacking_lsm()
    if found.feature == "fentry" and fentry().ok is False:
        return "this kernel has no BPF trampoline support, which fentry/fexit programs need"
    return None


def _lacking_lsm() -> str | None:
    if _btf_function(LSM_PROBE_HOOK) == 0:
        return "this kernel has no BPF LSM (CONFIG_BPF_LSM)"
    if fentry().ok is False:
        return "this kernel has no BPF trampoline support, which LSM programs need"
    return _lsm_inactive(active_lsms())


def _lsm_inactive(active: list[str] | None) -> str | None:
    """Why the BPF LSM is built in but not running, with the boot option that runs it."""
    if active is None or "bpf" in active:
        return None
    return (f"the BPF LSM is not active (active: {','.join(active)}); boot with "
            f"lsm={','.join(active)},bpf")


def bpf_lsm(privileged: bool) -> Check:
    """Whether LSM programs can attach here: the BPF LSM built in (its hooks are in the
    kernel's BTF only with CONFIG_BPF_LSM), active, and an LSM program that returns 0
    (allows everything) loaded on a hook and linked, then closed at once."""
    hook = _btf_function(LSM_PROBE_HOOK)
    if hook is None:
        return Check("lsm", None, "the kernel's BTF cannot be read")
    if hook == 0:
        return Check("lsm", False, "the kernel is built without the BPF LSM (CONFIG_BPF_LSM)")
    active = active_lsms()
    if inactive := _lsm_inactive(active):
        return Check("lsm", False, inactive)
    known = "built in (CONFIG_BPF_LSM)" + (f" and active ({','.join(active)})" if active else "")
    if not privileged:
        return Check("lsm", None, f"{known}; whether an LSM program can attach is unknown: "
                                  "probing needs root")
    refused = _load_and_link("an LSM", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, LSM_PROBE_HOOK, hook)
    if refused:
        return Check("lsm", False, f"{known}, but {refused}")
    if active is None:
        return Check("lsm", None, f"an LSM program links on {LSM_PROBE_HOOK}, but whether "
                                  f"the BPF LSM is active is unknown: mount securityfs "
                                  f"(mount -t securityfs securityfs {ACTIVE_LSMS.parent})")
    return Check("lsm", True, f"{known}; probed on {LSM_PROBE_HOOK}")


def active_lsms() -> list[str] | None:
    """The kernel's active LSMs, in order: securityfs's list, else lsm_list_modules(2)
    (which needs no mount); None when neither answers."""
    try:
        return ACTIVE_LSMS.read_text().strip().split(",")
    except OSError:
        return _listed_lsms()


def _listed_lsms() -> list[str] | None:
    number = SYS_LSM_LIST_MODULES.get(os.uname().machine)
    if number is None:
        return None
    ids = (ctypes.c_uint64 * 64)()
    size = ctypes.c_uint32(ctypes.sizeof(ids))
    count = libbpf.libc().syscall(number, ids, ctypes.byref(size), 0)
    if count < 0:  # before 6.8 (ENOSYS), or a seccomp filter refused it
        return None
    return [LSM_IDS.get(lsm_id, f"lsm {lsm_id}") for lsm_id in ids[:count]]


def event_source(kind: str, tracing: str | None = None) -> Check:
    """kprobes and uprobes attach through their PMU, or through tracefs's *_events files."""
    from ecli.kernel import system

    tracing = tracing or system.tracing_dir()
    pmu = EVENT_SOURCES / kind
    legacy = Path(tracing, f"{kind}_events") if tracing else None
    if pmu.is_dir():
        return Check(kind, True, f"PMU {pmu}")
    if legacy is not None and legacy.exists():
        return Check(kind, True, f"{legacy}")
    return Check(kind, False, f"no {kind} PMU ({pmu}) and no {kind}_events in tracefs: "
                              f"the kernel is built without CONFIG_{kind.upper()}_EVENTS")


def _btf_function(name: str) -> int | None:
    """The BTF id of kernel function `name`, 0 when it has none; None when the BTF cannot
    be read."""
    lib = libbpf.get()
    btf = lib.btf__load_vmlinux_btf()
    if not btf:
        return None
    try:
        return max(lib.btf__find_by_name_kind(btf, name.encode(), BTF_KIND_FUNC), 0)
    finally:
        lib.btf__free(btf)


def fentry() -> Check:
    """Load a fentry program on a kernel function and link it: the only sure test."""
    lib = libbpf.get()
    btf = lib.btf__load_vmlinux_btf()
    if not btf:
        return Check("fentry", False, "the kernel's BTF cannot be read")
    try:
        target = next(((name, type_id) for name in FENTRY_TARGETS
                       if (type_id := lib.btf__find_by_name_kind(btf, name.encode(),
                                                                 BTF_KIND_FUNC)) > 0), None)
    finally:
        lib.btf__free(btf)
    if target is None:
        return Check("fentry", None, "no known kernel function in BTF to probe with")
    name, type_id = target
    refused = _load_and_link("a fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, name,
                             type_id)
    return Check("fentry", not refused, refused or f"probed on {name}")


def _load_and_link(kind: str, prog_type: int, attach_type: int, name: str,
                   btf_id: int) -> str | None:
    """Load RETURN_ZERO as `kind` program (`prog_type`) on kernel function `name` and link
    it, then close both; None when both worked, else what the kernel refused, in words."""
    fd, error, log = _load_traced(prog_type, attach_type, btf_id)
    if fd < 0:
        reason = f": {log}" if log else ""
        return f"the kernel refused to load {kind} program on {name}: {errno_name(error)}{reason}"
    try:
        link = _bpf(BPF_LINK_CREATE, LINK_CREATE_ATTR.pack(fd, 0, attach_type, 0))
        if link < 0:
            return f"attaching {kind} program to {name} failed with " \
                   f"{errno_name(ctypes.get_errno())}"
        os.close(link)
    finally:
        os.close(fd)
    return None


def _load_traced(prog_type: int, attach_type: int, btf_id: int) -> tuple[int, int, str]:
    """BPF_PROG_LOAD of RETURN_ZERO as `prog_type`/`attach_type` on `btf_id`: (fd or -1,
    errno, last log line)."""
    insns = ctypes.create_string_buffer(RETURN_ZERO, len(RETURN_ZERO))
    license_ = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(16384)
    attr = PROG_LOAD_ATTR.pack(
        prog_type, len(RETURN_ZERO) // 8, ctypes.addressof(insns),
        ctypes.addressof(license_), 1, len(log), ctypes.addressof(log), 0, 0,
        b"ecli_probe", 0, attach_type, 0, 0, 0, 0, 0, 0, 0, btf_id, 0, 0, 0, 0, 0, 0)
    fd = _bpf(BPF_PROG_LOAD, attr)
    error = ctypes.get_errno() if fd < 0 else 0
    lines = [line for line in log.value.decode("utf-8", "replace").splitlines() if line.strip()]
    return fd, error, (lines[-1] if lines and fd < 0 else "")


def _bpf(cmd: int, attr: bytes) -> int:
    number = SYS_BPF.get(os.uname().machine)
    if number is None:
        ctypes.set_errno(errnos.ENOSYS)
        return -1
    buffer = ctypes.create_string_buffer(attr, len(attr))
    return int(libbpf.libc().syscall(number, cmd, buffer, len(attr)))


def errno_name(error: int) -> str:
    if error == ENOTSUPP:
        return "ENOTSUPP (not supported by this kernel)"
    return f"{errnos.errorcode.get(error, f'errno {error}')} ({os.strerror(error)})"
