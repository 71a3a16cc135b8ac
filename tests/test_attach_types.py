"""kprobe/kretprobe, ksyscall, fentry/fexit, tp_btf, lsm and iter: attached through libbpf's
section rules, proven in Debian's kernels under qemu, refused with one line on this one.

This host's kernel has no kprobes and no BPF trampolines (so no fentry, fexit or LSM
programs): here those objects must fail with one line naming the program, its section
and what the kernel lacks, and leave nothing loaded; tp_btf and iter run here for real.
In the guests (one boot per kernel, `guest` fixture, about 90 s each under TCG, two to
three minutes for arm64) the job tests/guest_attach.py runs each object, and the fentry
one as a pushed and pulled `bpf` package, with real triggers, and reports what ecli
printed; the tests below judge it. Debian's 6.1 arm64 kernel cannot link a trampoline to
a kernel function (ftrace direct calls came to arm64 in 6.4): there fentry, fexit and LSM
must end with one line saying so (`GUEST_LACKS`), the rest must run.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ecli.oci import reference
from ecli.oci import registry as registry_client
from ecli.oci.manifest import Platform
from ecli.oci.store import Store
from ecli.paths import Paths
from generator import guest as guests
from generator import guestkernels, kernelmatrix

from bpf_objects import HOST_BTF, ROOT, compile_bpf, image_btf
from ecli_process import RunningEcli, error_line, programs_left, run_ecli
from guest_attach import MARK, TRIGGER_COMM

pytestmark = pytest.mark.root
BPF = ROOT / "tests" / "bpf"
ATTACH_OBJECTS = ("kprobe", "ksyscall", "fentry", "tp_btf", "lsm", "iter")
GUEST_KERNELS = ("debian-6.1-amd64", "debian-6.12-amd64", "debian-6.1-arm64")
WORK = ROOT / ".run" / "kernels"  # Debian's packages, shared with the kernel matrix
GUEST_DIR = ROOT / ".run" / "attach-guest"  # inside the checkout: the guest sees it
PACKAGE = "attach-fentry"
TRIGGER = TRIGGER_COMM.decode()

# --- this kernel: no kprobes, no trampolines ------------------------------------------

LACKING = {
    "kprobe": "cannot attach open_entry (kprobe/do_sys_openat2): this kernel has no kprobe "
              "support (CONFIG_KPROBES, CONFIG_KPROBE_EVENTS)",
    "ksyscall": "cannot attach unlink_entry (ksyscall/unlinkat): this kernel has no kprobe "
                "support (CONFIG_KPROBES, CONFIG_KPROBE_EVENTS)",
    "fentry": "cannot load unlink_entry (fentry/do_unlinkat): this kernel has no BPF "
              "trampoline support, which fentry/fexit programs need",
    "lsm": "cannot load refuse_unlink (lsm/path_unlink): this kernel has no BPF trampoline "
           "support, which LSM programs need",
}


def _our_programs() -> set[int]:
    """Ids of loaded programs named as the attach_* objects name theirs."""
    shown = subprocess.run(["bpftool", "-j", "prog", "show"], check=True, capture_output=True,
                           text=True).stdout
    names = {"open_entry", "open_return", "unlink_entry", "unlink_return", "unlink_exit",
             "refuse_unlink"}
    return {p["id"] for p in json.loads(shown or "[]") if p.get("name") in names}


@pytest.mark.parametrize("kind", sorted(LACKING))
def test_a_kernel_without_the_feature_is_one_line_naming_it(objects, kind):
    before = _our_programs()
    result = run_ecli("run", str(objects[f"attach_{kind}"]), "--yes", "--duration", "5")
    assert result.returncode == 1, result.stderr
    assert error_line(result) == f"ecli: error: attach_{kind}: {LACKING[kind]}"
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert _our_programs() <= before, "nothing stays loaded"


def test_the_probes_find_neither_kprobes_nor_trampolines_here():
    from ecli.runtime import features

    assert features.event_source("kprobe").ok is False
    assert features.fentry().ok is False


def test_tp_btf_reports_a_command_this_test_runs(objects, short_dir):
    trigger = short_dir / TRIGGER
    shutil.copy("/bin/true", trigger)
    run = RunningEcli([str(objects["attach_tp_btf"]), "--json", "--duration", "3",
                       "--top", "256"])
    run.wait_attached()
    subprocess.run([str(trigger)], check=True)
    out, err, code = run.finish()
    assert code == 0, err
    assert [e["name"] for e in run.json_events(out) if e["comm"] == TRIGGER] == [str(trigger)]
    calls = {e["key"]["key"]: e["value"]["value"] for e in run.json_maps(out)["calls"]["entries"]}
    assert calls[TRIGGER] == 1
    assert programs_left(run.program_ids) == set()


def test_iter_prints_every_task_once_and_exits(objects):
    run = RunningEcli([str(objects["attach_iter"])])  # no --duration: it ends by itself
    out, err, code = run.finish()
    assert code == 0, err
    assert [s["state"] for s in run.states] == ["attached", "exited"]
    attached = {p["id"] for p in run.states[0]["programs"]}
    tasks = dict(line.split(" ", 1) for line in out.splitlines())
    assert len(tasks) == len(out.splitlines()) > 10, "each process once"
    own = Path("/proc/self/comm").read_text().strip()
    assert tasks[str(os.getpid())] == own  # this test's process
    assert tasks[str(run.process.pid)] == Path(sys.executable).name[:15]  # ecli's own
    assert programs_left(attached) == set()
    as_json = run_ecli("run", str(objects["attach_iter"]), "--json")
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {r["iterator"] for r in records} == {"list_tasks"}
    assert f"{os.getpid()} {own}" in {r["line"] for r in records}


def test_the_status_line_says_how_the_run_ends(objects):
    """Iterators only: the run ends by itself, so no 'Ctrl-C'; any other program: Ctrl-C,
    or --duration when given."""
    iterated = run_ecli("run", str(objects["attach_iter"]))
    assert iterated.returncode == 0, iterated.stderr
    assert iterated.stderr.splitlines()[0] == (
        "ecli: attach_iter: 1 program(s) attached; iterators only: the run ends once they "
        "are read")
    assert "Ctrl-C" not in iterated.stderr
    traced = run_ecli("run", str(objects["attach_tp_btf"]), "--duration", "1.5")
    assert traced.returncode == 0, traced.stderr
    assert ("ecli: attach_tp_btf: 1 program(s) attached; stops after 1.5s, or Ctrl-C"
            in traced.stderr.splitlines())
    stopped = RunningEcli([str(objects["attach_tp_btf"])])
    stopped.wait_attached()
    stopped.process.send_signal(signal.SIGINT)
    _, err, code = stopped.finish()
    assert code == 0, err
    assert "ecli: attach_tp_btf: 1 program(s) attached; Ctrl-C to stop" in err.splitlines()


# --- the guests -------------------------------------------------------------------------

def _package(registry, tmp: Path) -> str:
    """attach_fentry as a `bpf` package for linux/amd64 and linux/arm64: built and pushed."""
    project = tmp / PACKAGE
    project.mkdir()
    for name in ("attach_fentry.bpf.c", "attach_event.h"):
        shutil.copy(BPF / name, project)
    (project / "ecli.toml").write_text(f"""\
[package]
name = "{PACKAGE}"
version = "0.1.0"
kind = "bpf"
description = "fentry and fexit on do_unlinkat (a test of attach types)"
source = "attach_fentry.bpf.c"
license = "GPL-2.0-only"
""")
    ref = f"{registry.host}/ebpfhub/{PACKAGE}:0.1.0"
    for args in (("build", str(project), "--platform", "linux/amd64", "--platform",
                  "linux/arm64"), ("push", ref, "--dir", str(project))):
        done = run_ecli(*args, timeout=300)
        assert done.returncode == 0, done.stderr
    return ref


def _home(ref: str, arch: str, folder: Path) -> Path:
    """An ecli home holding the package pulled for the guest's platform (it has no network)."""
    home = folder / "home"
    shutil.rmtree(home, ignore_errors=True)
    store = Store(Paths.from_environment({"ECLI_HOME": str(home)}).oci_store_dir)
    store.ensure()
    registry_client.pull(reference.parse(ref), store, platform=Platform("linux", arch))
    return home


def _job(folder: Path, objects_dir: Path, home: Path, ref: str, arch: str) -> Path:
    """The guest's script: the package's home copied (the guest's root is read-only)."""
    python, exports = kernelmatrix.guest_python(arch, ROOT)
    job = folder / "job.sh"
    job.write_text(f"cd {ROOT}\ncp -a {home} /tmp/ecli-home\n"
                   "export HOME=/tmp ECLI_HOME=/tmp/ecli-home ECLI_DEFAULT_SOURCE= "
                   "PYTHONDONTWRITEBYTECODE=1 "
                   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
                   f"{exports}exec {python} tests/guest_attach.py {objects_dir} {ref}\n")
    return job


@pytest.fixture(scope="module")
def package(registry, tmp_path_factory) -> str:
    """The pushed package's reference: once for every guest."""
    return _package(registry, tmp_path_factory.mktemp("attach"))


@pytest.fixture(scope="module", params=GUEST_KERNELS)
def guest(request, package) -> dict[str, dict]:
    """One boot of a guest kernel running every check; its records by check name.

    The objects are compiled for the guest's architecture against its kernel's BTF (the
    arm64 one cut out of its image): kprobe and ksyscall read registers by the target's
    pt_regs layout."""
    spec = next(s for s in guestkernels.read_matrix() if s.name == request.param)
    kernel = guestkernels.prepare_kernel(spec, WORK)
    root = kernelmatrix.prepare_arm64(WORK, ROOT) if spec.arch == "arm64" else None
    kernelmatrix.byte_compile(ROOT, root)
    folder = GUEST_DIR / spec.name  # inside the checkout: the guest sees it
    objects_dir = folder / "objects"
    shutil.rmtree(objects_dir, ignore_errors=True)
    machine = guestkernels.ARCHES[spec.arch]
    btf = HOST_BTF if machine == platform.machine() else image_btf(kernel.vmlinuz)
    for kind in ATTACH_OBJECTS:
        compile_bpf(BPF / f"attach_{kind}.bpf.c", objects_dir, machine, btf)
    job = _job(folder, objects_dir, _home(package, spec.arch, folder), package, spec.arch)
    initramfs = guests.build_initramfs(kernel, guests.busybox_for(spec.arch, root),
                                       WORK / "initrd" / f"{kernel.release}.gz")
    checks = len(ATTACH_OBJECTS) + 2  # each object's, the pulled package's, doctor's
    # bounded as the kernel matrix bounds a boot of that many tests (90 s when idle)
    booted = guests.boot(kernel, initramfs, job, arm64_root=root, checkout=ROOT,
                         timeout=kernelmatrix.BOOT_SECONDS[spec.arch]
                         + kernelmatrix.TEST_SECONDS[spec.arch] * checks)
    records = {}
    for line in booted.console.splitlines():
        if MARK + " " in line:
            record = json.loads(line.split(MARK + " ", 1)[1])
            records[record["check"]] = record
    (folder / "console.log").write_text(booted.console)  # to read when a check fails
    tail = " | ".join(booted.console.splitlines()[-10:])
    assert booted.exit_status == 0, f"the guest job ended {booted.exit_status}: {tail}"
    assert records["kernel"]["release"] == kernel.release
    records["kernel"]["name"] = spec.name
    print(f"{spec.name}: {booted.seconds:.0f} s, first command at {booted.boot_seconds} s")
    return records


# What a guest kernel lacks, by check: the one-line error its run ends with instead.
# Debian's 6.1 arm64 kernel has the BPF LSM and BPF trampolines, but a trampoline reaches
# a kernel function on arm64 only through ftrace direct calls, which came with Linux 6.4.
NO_TRAMPOLINE = "this kernel has no BPF trampoline support, which {} need"
GUEST_LACKS = {"debian-6.1-arm64": {
    "fentry": "cannot attach unlink_entry (fentry/do_unlinkat): "
              + NO_TRAMPOLINE.format("fentry/fexit programs"),
    "lsm": "cannot attach refuse_unlink (lsm/path_unlink): "
           + NO_TRAMPOLINE.format("LSM programs")}}


def _lacks(guest: dict[str, dict], check: str) -> str | None:
    return GUEST_LACKS.get(guest["kernel"]["name"], {}).get(check)


def _refused(record: dict, name: str, lacks: str) -> None:
    """The run ended with one line naming the program, its section and what is missing."""
    assert record["returncode"] == 1, record
    assert [line for line in record["stderr"].splitlines() if line.startswith(
        "ecli: error: ")] == [f"ecli: error: {name}: {lacks}"], record["stderr"]
    assert record["loaded"] == [], "nothing stays loaded"


def _ran(record: dict) -> dict:
    assert record.get("returncode") == 0, record.get("stderr") or record
    assert record.get("left", []) == [], "programs stayed loaded after the run"
    return record


def _calls(record: dict) -> int:
    return {e["key"]["key"]: e["value"]["value"] for e in record["calls"]}.get(TRIGGER, 0)


def test_kprobe_and_kretprobe_see_an_open(guest):
    record = _ran(guest["kprobe"])
    assert [e["name"] for e in record["events"]] == ["/tmp/ecli-attach-kprobe"]
    assert _calls(record) == 1  # the kretprobe counted its return
    assert "attached to kretprobe/do_sys_openat2" in record["stderr"]


def test_ksyscall_reads_the_syscall_arguments(guest):
    record = _ran(guest["ksyscall"])
    assert record["trigger"] == 0
    assert [e["name"] for e in record["events"]] == ["/tmp/ecli-attach-ksyscall"]
    assert _calls(record) == 1  # kretsyscall


def test_fentry_and_fexit_see_arguments_and_return_values(guest):
    if lacks := _lacks(guest, "fentry"):
        return _refused(guest["fentry"], "attach_fentry", lacks)
    record = _ran(guest["fentry"])
    assert record["trigger"] == 2  # ENOENT: the second file does not exist
    assert [(e["name"], e["ret"]) for e in record["events"]] == [
        ("/tmp/ecli-attach-fentry", 0), ("/tmp/ecli-attach-fentry", 0),  # entry, exit
        ("/tmp/ecli-attach-missing", 0), ("/tmp/ecli-attach-missing", -2)]
    assert _calls(record) == 2


def test_fentry_as_a_pulled_bpf_package(guest):
    assert guest["fentry-package"]["target"].endswith(f"/ebpfhub/{PACKAGE}:0.1.0")
    if lacks := _lacks(guest, "fentry"):
        return _refused(guest["fentry-package"], PACKAGE, lacks)
    record = _ran(guest["fentry-package"])
    assert [(e["name"], e["ret"]) for e in record["events"]][-1] == (
        "/tmp/ecli-attach-missing", -2)


def test_tp_btf_sees_an_exec(guest):
    record = _ran(guest["tp_btf"])
    assert [e["name"] for e in record["events"]] == ["/tmp/ecli-trig"]


def test_lsm_refuses_what_it_says_and_only_while_attached(guest):
    assert "bpf" in guest["kernel"]["lsm"].split(",")  # Debian's CONFIG_LSM lists it
    if lacks := _lacks(guest, "lsm"):
        return _refused(guest["lsm"], "attach_lsm", lacks)
    record = _ran(guest["lsm"])
    assert record["trigger"] == 1  # EPERM for ecli-lsm-keep; ecli-lsm-other went
    assert [(e["name"], e["ret"]) for e in record["events"]] == [
        ("ecli-lsm-keep", -1), ("ecli-lsm-other", 0)]
    assert record["kept"] is True
    assert record["after"] == 0  # detached: the same unlink is allowed again


def test_doctor_says_whether_lsm_programs_can_attach(guest):
    """The other side of tests/test_doctor.py: a kernel whose BPF LSM is built in and
    active, with trampolines (the line this host cannot show) or without (arm64 6.1)."""
    record = guest["doctor"]
    assert record["returncode"] == 0, record["stderr"]
    known = f"built in (CONFIG_BPF_LSM) and active ({guest['kernel']['lsm']})"
    if _lacks(guest, "lsm"):
        refused = "failed with ENOTSUPP (not supported by this kernel)"
        assert record["fentry"] == {"name": "fentry", "ok": False, "detail": (
            f"attaching a fentry program to bpf_fentry_test1 {refused}")}
        assert record["lsm"] == {"name": "lsm", "ok": False, "detail": (
            f"{known}, but attaching an LSM program to bpf_lsm_file_open {refused}")}
        return
    assert record["fentry"]["ok"] is True
    assert record["lsm"] == {"name": "lsm", "ok": True, "detail": (
        f"{known}; probed on bpf_lsm_file_open")}


def test_iter_prints_the_tasks_and_exits(guest):
    record = guest["iter"]
    assert record["returncode"] == 0, record
    shown = {r["line"] for r in record["shown"]}
    assert "1 init" in shown  # the guest's init
    assert any(line.startswith(f"{record['ecli_pid']} ") for line in shown)  # ecli itself
    assert record["lines"] > 10
