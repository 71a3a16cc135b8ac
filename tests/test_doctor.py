"""`ecli doctor` on the real kernel: what it supports, and whether packages can run."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from ecli_process import ecli_command, run_ecli

pytestmark = pytest.mark.root
UTF8 = {**os.environ, "PYTHONUTF8": "1", "NO_COLOR": ""}


def doctor_json(*args: str) -> tuple[int, dict]:
    result = run_ecli("doctor", *args, "--json")
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def test_this_kernel_lacks_kprobes_and_fentry_and_has_the_rest():
    from ecli.runtime.attach.tracing import ensure_tracefs

    ensure_tracefs()  # as any attaching ecli run would: the report must then see it
    code, report = doctor_json()
    assert code == 0, "root with BTF: ready"
    system = report["system"]
    attach = system["attach"]
    assert attach["kprobe"]["ok"] is False
    assert "kprobe" in attach["kprobe"]["detail"]
    assert attach["fentry"]["ok"] is False
    assert "fentry program" in attach["fentry"]["detail"]  # it really tried to load one
    for key in ("tracepoint", "raw_tracepoint", "uprobe", "xdp", "tc", "cgroup",
                "perf_event", "ringbuf"):
        assert attach[key]["ok"] is True, (key, attach[key])
    assert system["btf"]["ok"] is True
    assert system["privileges"]["ok"] is True
    assert system["tracefs"]["ok"] is True
    assert system["program_types"]["tracepoint"] is True
    assert system["program_types"]["tracing"] is False
    assert system["map_types"]["ringbuf"] is True
    assert system["map_types"]["hash"] is True
    assert system["libbpf"].startswith("v1.")
    assert system["kernel"] == os.uname().release
    assert report["package"] is None


def kernel_config() -> dict[str, str]:
    """The running kernel's build options: /proc/config.gz, else /boot/config-RELEASE."""
    proc, boot = Path("/proc/config.gz"), Path(f"/boot/config-{os.uname().release}")
    text = gzip.decompress(proc.read_bytes()).decode() if proc.exists() else boot.read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if line.startswith("CONFIG_"))


def in_mount_namespace(setup: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`setup` (shell) in a private mount namespace, then `ecli ARGS` there: the host's
    mounts stay as they are."""
    command = " ".join(f"'{arg}'" for arg in ecli_command(*args))
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec",
                           f"{setup}\nexec {command}"],
                          capture_output=True, text=True, env=UTF8, timeout=60)


SECURITYFS = "/sys/kernel/security"
WITH_SECURITYFS = (f"test -e {SECURITYFS}/lsm || mount -t securityfs securityfs {SECURITYFS}")
WITHOUT_SECURITYFS = f"! test -e {SECURITYFS}/lsm || umount {SECURITYFS}"


def active_lsms() -> list[str]:
    """/sys/kernel/security/lsm, securityfs mounted for the reading if the host has not."""
    shown = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec",
                            f"{WITH_SECURITYFS}\ncat {SECURITYFS}/lsm"],
                           capture_output=True, text=True, check=True, timeout=30)
    return shown.stdout.strip().split(",")


def bpftool_has_lsm_programs() -> bool:
    probed = subprocess.run(["bpftool", "-j", "feature", "probe", "kernel"], check=True,
                            capture_output=True, text=True, timeout=120).stdout
    return json.loads(probed)["program_types"]["have_lsm_prog_type"]


def test_the_bpf_lsm_line_says_what_the_kernel_config_and_the_lsm_list_say():
    """Without securityfs (the active list from lsm_list_modules(2)) and with it, the line
    agrees with the kernel's config, /sys/kernel/security/lsm, and bpftool."""
    config, active = kernel_config(), active_lsms()
    lines = []
    for setup in (WITHOUT_SECURITYFS, WITH_SECURITYFS):
        result = in_mount_namespace(setup, "doctor", "--json")
        assert result.returncode == 0, result.stderr
        lines.append(json.loads(result.stdout)["system"]["attach"])
    assert lines[0]["lsm"] == lines[1]["lsm"], "both ways of reading the active LSMs agree"
    attach = lines[0]
    lsm = attach["lsm"]
    if config.get("CONFIG_BPF_LSM") != "y":
        assert lsm == {"name": "lsm", "ok": False, "detail": "the kernel is built without "
                       "the BPF LSM (CONFIG_BPF_LSM)"}
    elif "bpf" not in active:
        assert lsm["ok"] is False
        assert lsm["detail"].endswith(f"boot with lsm={','.join(active)},bpf")
    else:
        assert lsm["detail"].startswith(
            f"built in (CONFIG_BPF_LSM) and active ({','.join(active)})")
        # attaching needs a BPF trampoline too: the fentry probe and bpftool agree
        assert lsm["ok"] is attach["fentry"]["ok"]
        assert lsm["ok"] is bpftool_has_lsm_programs()
        if not lsm["ok"]:
            assert "the kernel refused to load an LSM program on bpf_lsm_file_open: E" \
                in lsm["detail"]


def test_an_inactive_bpf_lsm_names_the_boot_option(objects):
    """As securityfs shows a kernel booted without bpf among its LSMs (a tmpfs over
    /sys/kernel/security in a private mount namespace holds that list)."""
    others = [name for name in active_lsms() if name != "bpf"]
    listed = ",".join(others)
    setup = (f"mount -t tmpfs tmpfs {SECURITYFS}\necho {listed} > {SECURITYFS}/lsm")
    result = in_mount_namespace(setup, "doctor", "--json")
    assert result.returncode == 0, result.stderr
    lsm = json.loads(result.stdout)["system"]["attach"]["lsm"]
    if kernel_config().get("CONFIG_BPF_LSM") != "y":
        assert "built without the BPF LSM (CONFIG_BPF_LSM)" in lsm["detail"]
        return
    hint = f"the BPF LSM is not active (active: {listed}); boot with lsm={listed},bpf"
    assert lsm == {"name": "lsm", "ok": False, "detail": hint}
    text = in_mount_namespace(setup, "doctor")
    assert f"  ✗ BPF LSM                          {hint}" in text.stdout.splitlines()
    package = in_mount_namespace(setup, "doctor", str(objects["attach_lsm"]), "--json")
    assert package.returncode == 1
    needs = {c["name"]: c for c in json.loads(package.stdout)["package"]["requirements"]}
    assert needs["BPF LSM (section lsm/path_unlink)"]["ok"] is False


def test_text_report_marks_each_line():
    result = subprocess.run(ecli_command("doctor"), capture_output=True, text=True,
                            env=UTF8, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"kernel {os.uname().release}, libbpf " + lines[0].split()[-1]
    assert any(line.startswith("  ✗ kprobes ") for line in lines)
    assert any(line.startswith("  ✗ fentry/fexit ") for line in lines)
    assert any(line.startswith("  ✓ ring buffers ") for line in lines)
    assert any(line.startswith("  ✓ tracepoints ") for line in lines)
    assert "\033[" not in result.stdout, "no colour when not a terminal"


def test_a_kprobe_object_cannot_run_and_doctor_says_why(objects):
    code, report = doctor_json(str(objects["kprobe_only"]))
    assert code == 1
    assert report["package"]["can_run"] is False
    result = subprocess.run(ecli_command("doctor", str(objects["kprobe_only"])),
                            capture_output=True, text=True, env=UTF8, timeout=60)
    assert result.returncode == 1
    assert "package kprobe_only: ✗ cannot run here" in result.stdout
    assert ("✗ needs kprobes (section kprobe/do_sys_openat2): not available on this kernel"
            in result.stdout)


def test_opensnoop_can_run(objects):
    code, report = doctor_json(str(objects["opensnoop"]))
    assert code == 0
    package = report["package"]
    assert package["can_run"] is True
    assert package["name"] == "opensnoop"
    names = [r["name"] for r in package["requirements"]]
    assert "tracepoints (section tracepoint/syscalls/sys_enter_openat)" in names
    assert "map type ringbuf (map events)" in names


def test_requirements_of_the_package_config_are_checked(registry, make_bpf_project, tmp_path):
    project = make_bpf_project("futurek")
    toml = project / "ecli.toml"
    toml.write_text(toml.read_text().replace('min_kernel = "5.8"', 'min_kernel = "99.1"'))
    env = {**os.environ, "ECLI_HOME": str(tmp_path / "home")}
    ref = f"{registry.host}/doctor/futurek:0.1.0"
    assert run_ecli("build", str(project), env=env).returncode == 0
    pushed = run_ecli("push", ref, "--dir", str(project), env=env)
    assert pushed.returncode == 0, pushed.stderr
    result = run_ecli("doctor", ref, "--json", env=env)
    assert result.returncode == 1, result.stderr
    requirements = {r["name"]: r for r in json.loads(result.stdout)["package"]["requirements"]}
    assert requirements["kernel 99.1 or newer"]["ok"] is False
    assert requirements["tracepoints"]["ok"] is True
    assert requirements["CAP_BPF"]["ok"] is True


def test_a_missing_package_file_is_a_one_line_error(tmp_path):
    result = run_ecli("doctor", str(tmp_path / "nothing.bpf.o"))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"ecli: error: {tmp_path / 'nothing.bpf.o'}: no such file")


def test_without_privileges_doctor_fails_and_names_them():
    home = Path(tempfile.mkdtemp(prefix="ecli-doctor-"))
    try:
        home.chmod(0o755)
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", *ecli_command("doctor", "--json")],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "ECLI_HOME": str(home / "home")})
    finally:
        shutil.rmtree(home)
    assert result.returncode == 1, result.stderr
    system = json.loads(result.stdout)["system"]
    assert system["privileges"]["ok"] is False
    assert "CAP_BPF" in system["privileges"]["detail"]
    assert system["attach"]["kprobe"]["ok"] is False  # no PMU: known without privileges
    assert system["attach"]["fentry"]["ok"] is None  # probing it needs them
    ready = kernel_config().get("CONFIG_BPF_LSM") == "y" and "bpf" in active_lsms()
    assert system["attach"]["lsm"]["ok"] is (None if ready else False)  # loading one too
    assert system["program_types"]["tracepoint"] is None
