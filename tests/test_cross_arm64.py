"""The C and Rust templates cross-built for arm64, pushed as one amd64 + arm64 package,
and run by `ecli run` on this amd64 kernel and inside Debian's arm64 kernel under qemu.

The build uses Debian's cross toolchains (gcc-aarch64-linux-gnu, multiarch
libbpf-dev:arm64, libelf-dev:arm64, zlib1g-dev:arm64) and rustup's
aarch64-unknown-linux-gnu target, as `make deps` installs them. The guest has no
network: its store is pulled here for linux/arm64 (as `make kernels` does), and the
guest runs each package by reference with `--pull never`, Debian's arm64 Python
running this checkout's ecli. One boot runs both (about two minutes under TCG).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_templates import ecli_json, run_until_event, toolchain_env  # noqa: F401

from ecli.oci import reference
from ecli.oci import registry as registry_client
from ecli.oci.manifest import Platform
from ecli.oci.store import Store
from ecli.paths import Paths
from generator import guest, guestkernels, kernelmatrix

from bpf_objects import ROOT

pytestmark = [pytest.mark.root, pytest.mark.registry]
TEMPLATES = ("c-libbpf", "rust-libbpf")
WORK = ROOT / ".run" / "kernels"  # Debian's packages, kept between runs (as the matrix's)
GUEST_SECONDS = 900.0
OUT_MARK = "@@cross-out"

JOB = """\
cd {checkout}
cp -a {home} /tmp/ecli-home
export HOME=/tmp ECLI_HOME=/tmp/ecli-home PYTHONDONTWRITEBYTECODE=1 PYTHONPATH={checkout}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu
echo "{mark} machine $(uname -m)"
{runs}
"""
# One package, in a shell of its own (NAME REF): `ecli run` until the bundle says it has
# attached, a `cat` of a unique path three times, SIGTERM; then what it printed.
RUN_ONE = """\
name=$1
/usr/bin/python3.11 -m ecli run --yes --pull never "$2" >/tmp/$name.out 2>/tmp/$name.err &
run=$!
tries=0
while ! grep -q attached /tmp/$name.err && kill -0 $run 2>/dev/null && [ $tries -lt 300 ]; do
  sleep 1; tries=$((tries + 1))
done
for n in 1 2 3; do cat /tmp/ecli-arm64-$name-$n 2>/dev/null; sleep 1; done
kill -TERM $run
sleep 3
sed "s|^|{mark} $name out |" /tmp/$name.out; sed "s|^|{mark} $name err |" /tmp/$name.err
wait $run
"""


def _arm64_kernel() -> guestkernels.KernelSpec:
    return next(spec for spec in guestkernels.read_matrix() if spec.arch == "arm64")


@pytest.fixture(scope="module")
def cross_built(registry, toolchain_env, tmp_path_factory) -> dict[str, str]:  # noqa: F811
    """Each template built for linux/amd64 and linux/arm64 and pushed: name -> reference."""
    tmp = tmp_path_factory.mktemp("cross")
    refs = {}
    for template in TEMPLATES:
        name = f"cross-{template.split('-')[0]}"
        project = tmp / name
        ecli_json("init", str(project), "--template", template, "--owner", "tester")
        built = ecli_json("build", str(project), "--platform", "linux/arm64", "--platform",
                          "linux/amd64", env=toolchain_env)
        assert built["platforms"] == ["linux/amd64", "linux/arm64"]
        arm64 = project / "build" / "linux-arm64" / f"{name}.tar.gz"
        assert str(arm64) in built["artifacts"]
        ref = f"{registry.host}/templates/{name}:0.1.0"
        pushed = ecli_json("push", ref, "--dir", str(project))
        assert pushed["digest"] == built["digest"]
        refs[name] = ref
    return refs


def test_the_pushed_package_offers_both_platforms_with_their_own_machine_code(cross_built):
    for ref in cross_built.values():
        offered = registry_client.platform_manifests(reference.parse(ref))
        assert sorted(str(m.platform) for m in offered) == ["linux/amd64", "linux/arm64"]
        assert len({m.digest for m in offered}) == 2  # not one binary under two names


def test_the_amd64_side_runs_here(cross_built, tmp_path):
    env = {**os.environ, "ECLI_HOME": str(tmp_path / "home")}
    for name, ref in cross_built.items():
        assert run_until_event(ref, name, env=env).strip()


def test_the_arm64_side_runs_in_debians_arm64_kernel(cross_built):
    home = WORK / "cross-home"  # under the checkout: the guest sees it there
    shutil.rmtree(home, ignore_errors=True)
    store = Store(Paths.from_environment({"ECLI_HOME": str(home)}).oci_store_dir)
    store.ensure()
    for ref in cross_built.values():
        registry_client.pull(reference.parse(ref), store, platform=Platform("linux", "arm64"))
    spec = _arm64_kernel()
    kernel = guestkernels.prepare_kernel(spec, WORK)
    root = kernelmatrix.prepare_arm64(WORK, ROOT)
    kernelmatrix.byte_compile(ROOT, root)
    initramfs = guest.build_initramfs(kernel, guest.busybox_for("arm64", root),
                                      WORK / "initrd" / f"{kernel.release}.gz")
    job = WORK / "plans" / "cross-arm64.sh"
    job.parent.mkdir(parents=True, exist_ok=True)
    one = job.with_name("cross-arm64-one.sh")
    one.write_text(RUN_ONE.format(mark=OUT_MARK))
    runs = "\n".join(f"/bin/sh {one.resolve()} {name} {ref}; echo \"{OUT_MARK} {name} done $?\""
                     for name, ref in cross_built.items())
    job.write_text(JOB.format(checkout=ROOT, home=home.resolve(), runs=runs, mark=OUT_MARK))
    try:
        booted = guest.boot(kernel, initramfs, job.resolve(), arm64_root=root,
                            checkout=ROOT, timeout=GUEST_SECONDS)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    said = [line.split(OUT_MARK + " ", 1)[1].rstrip() for line in booted.console.splitlines()
            if OUT_MARK + " " in line]  # the serial console ends lines with \r\n
    tail = "\n".join(booted.console.splitlines()[-40:])
    assert "machine aarch64" in said, tail
    for name in cross_built:
        events = [line for line in said if line.startswith(f"{name} out ")]
        # the event the arm64 probe sent for the guest's own `cat` of a unique path
        assert any(re.search(rf"\bcat\s+/tmp/ecli-arm64-{name}-\d$", line) for line in events), (
            "\n".join(line for line in said if line.startswith(name)) or tail)
    assert booted.exit_status == 0, tail


def _arm64_build_error(project: Path, env: dict[str, str]) -> tuple[str, str]:
    """`ecli build --platform linux/arm64` that must fail: its first line, all of stderr."""
    done = subprocess.run([sys.executable, "-m", "ecli", "build", str(project),
                           "--platform", "linux/arm64"], capture_output=True, text=True,
                          env=env, check=False)
    assert done.returncode != 0
    assert not (project / "build" / "oci").exists()
    return done.stderr.strip().splitlines()[0], done.stderr


def test_a_missing_cross_compiler_is_one_error_naming_the_package(tmp_path):
    project = tmp_path / "nocross"
    ecli_json("init", str(project), "--template", "c-libbpf", "--owner", "tester")
    (tmp_path / "bin").mkdir()
    env = {**os.environ, "PATH": str(tmp_path / "bin")}  # no aarch64-linux-gnu-gcc there
    first, said = _arm64_build_error(project, env)
    assert first == ("ecli: error: aarch64-linux-gnu-gcc is not installed "
                     "(needed to build nocross)"), said
    assert "gcc-aarch64-linux-gnu" in said


def test_a_missing_rust_target_is_one_error_naming_the_rustup_command(tmp_path):
    project = tmp_path / "notarget"
    ecli_json("init", str(project), "--template", "rust-libbpf", "--owner", "tester")
    # a Rust toolchain whose sysroot holds no standard library for aarch64: a rustc
    # first on PATH answering `--print sysroot` with an empty folder
    sysroot = tmp_path / "sysroot"
    (sysroot / "lib" / "rustlib" / "x86_64-unknown-linux-gnu").mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "rustc"
    fake.write_text(f"#!/bin/sh\necho {sysroot}\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    first, said = _arm64_build_error(project, env)
    assert first == ("ecli: error: Rust's standard library for aarch64-unknown-linux-gnu is "
                     f"not installed in {sysroot} (needed to build notarget)"), said
    assert "rustup target add aarch64-unknown-linux-gnu" in said
    assert not (project / "target").exists()
