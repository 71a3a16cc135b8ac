"""The kernel matrix: every index entry's own test, on this kernel and on Debian's under qemu.

On the host: each entry of index/ is built from examples/NAME, pushed to the test
registry, pulled and run by reference as a user runs it, through generator.pkgtest
(the same code each guest runs). In guests, once per run (the `matrix` fixture,
about four minutes under TCG, the two guests side by side): CI_GUEST_PACKAGES,
capable (min_kernel 6.14: "unsupported" there, with no boot) and bswapcount, a
package whose instruction Linux 6.1's verifier refuses, through `python -m
generator kernels` on Debian's 6.1 amd64 and arm64 kernels, and bswapcount alone
on 6.12 amd64 and the host; then api/v1, `ecli info` and the package page in
Chromium show it. The guests run CI_GUEST_PACKAGES, not the whole catalog:
`make kernels` runs every entry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecli.hubindex import model
from ecli.packages.kernelmatrix import machine_warning
from generator import guest, guestkernels, kernelresults, pkgtest
from generator.kernelresults import KernelResult
from generator.problems import GeneratorError
from generator.validate import validate_index

from bpf_objects import ROOT
from ecli_process import run_ecli

pytestmark = pytest.mark.root
INDEX = ROOT / "index"
ENTRIES = sorted(path.stem for path in (INDEX / "packages").glob("*.yaml"))
# What the guests run in `make test` (.ci/run): the seven packages that came before the
# catalog, one for each kind of hook (tracepoint, uprobe, raw tracepoint, perf event,
# XDP), biolatency, whose block I/O needs the guest's scratch disk, and portstat, whose
# tc programs become classic tc filters on 6.1 (no tcx); each under 15 s per guest test
# under TCG. The whole catalog in the guests would add ~10 minutes to CI;
# `make kernels` (the weekly kernels.yml) runs every entry.
CI_GUEST_PACKAGES = ("bashreadline", "biolatency", "execsnoop", "fsslower", "funclatency",
                     "opensnoop", "portstat", "profile", "runqlat", "tcpstates", "xdpcount")
# Declares min_kernel 6.14 (its tracepoint is that new): the guests skip it, unsupported.
BELOW_MIN_KERNEL = "capable"
BROKEN = ROOT / "tests" / "kernels" / "bswapcount"
BROKEN_ENTRY = """\
name: bswapcount
kind: bpf
summary: "Emit bswap16(1) on every execve, with an instruction Linux 6.1 lacks"
owners: [ebpfhub]
license: GPL-2.0-only OR BSD-3-Clause
versions:
  - version: 0.1.0
    ref: {host}/ebpfhub/bswapcount:0.1.0
test:
  trigger: /bin/echo ecli-test
  expect:
    event: {{swapped: 256}}
"""
WORK = ROOT / ".run" / "kernels"  # Debian's packages, kept between runs


def publish(project: Path, registry, tmp: Path, env: dict[str, str]) -> str:
    """Build a copy of `project` and push it as the hub's entries name it."""
    copy = tmp / project.name
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build"))
    ref = f"{registry.host}/ebpfhub/{project.name}:0.1.0"
    built = run_ecli("build", str(copy), env=env, timeout=300)
    assert built.returncode == 0, built.stderr
    pushed = run_ecli("push", ref, "--dir", str(copy), env=env)
    assert pushed.returncode == 0, pushed.stderr
    return ref


def published_index(names: tuple[str, ...], registry, tmp: Path, env: dict[str, str],
                    ignore: tuple[str, ...] = ()) -> Path:
    """A copy of index/ holding only these entries, each built, pushed to `registry` and
    named there; no lock or results yet (and none of `ignore`)."""
    index = tmp / "index"
    shutil.copytree(INDEX, index,
                    ignore=shutil.ignore_patterns("lock.json", "kernels.json", *ignore))
    for name in ENTRIES:
        entry = index / "packages" / f"{name}.yaml"
        if name not in names:
            entry.unlink()
            continue
        publish(ROOT / "examples" / name, registry, tmp, env)
        entry.write_text(entry.read_text().replace("127.0.0.1:5000", registry.host))
    return index


def generator(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "generator", *args], capture_output=True,
                          text=True, timeout=timeout, check=False, cwd=ROOT)


@pytest.mark.parametrize("name", ENTRIES)
def test_index_entry_passes_its_own_test_on_this_kernel(name, registry, tmp_path):
    entry = validate_index(INDEX).index.entries[name]
    assert entry.test is not None, f"index/packages/{name}.yaml declares no test"
    env = {**os.environ, "ECLI_HOME": str(tmp_path / "home")}
    ref = publish(ROOT / "examples" / name, registry, tmp_path, env)
    assert run_ecli("pull", ref, env=env).returncode == 0
    outcome = pkgtest.run_test(ref, pkgtest.PackageTest.from_plain(entry.test), env=env)
    assert outcome == pkgtest.Outcome("pass"), outcome.reason


def test_a_test_fails_when_its_evidence_never_appears(registry, tmp_path):
    env = {**os.environ, "ECLI_HOME": str(tmp_path / "home")}
    ref = publish(ROOT / "examples" / "execsnoop", registry, tmp_path, env)
    assert run_ecli("pull", ref, env=env).returncode == 0
    wrong = pkgtest.PackageTest("/bin/true", expect_event={"comm": "no-such-command"})
    outcome = pkgtest.run_test(ref, wrong, env=env)
    assert outcome.result == "fail"
    assert outcome.reason.startswith("no event with comm=no-such-command among")
    empty = pkgtest.PackageTest("/bin/true", expect_map="no_such_map")
    assert pkgtest.run_test(ref, empty, env=env) == pkgtest.Outcome(
        "fail", "the result map 'no_such_map' stayed empty")
    # a guest's plan runs each ecli as a fork of its own process: the same verdicts
    right = {"trigger": "/bin/true", "expect": {"event": {"comm": "true"}}}
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"tests": [
        {"package": name, "version": "0.1.0", "digest": "sha256:0", "target": ref, "test": test}
        for name, test in (("wrong", {"trigger": "/bin/true",
                                      "expect": {"event": {"comm": "no-such-command"}}}),
                           ("empty", {"trigger": "/bin/true", "expect": {"map": "no_such_map"}}),
                           ("right", right))]}))
    done = subprocess.run([sys.executable, "-m", "generator.pkgtest", str(plan)], env=env,
                          capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    verdicts = {record["package"]: (record["result"], record["reason"]) for record in (
        json.loads(line.split(" ", 1)[1]) for line in done.stdout.splitlines()
        if line.startswith(pkgtest.RESULT_MARK + " "))}
    assert verdicts["wrong"][0] == "fail"
    assert verdicts["wrong"][1].startswith("no event with comm=no-such-command among")
    assert verdicts["empty"] == ("fail", "the result map 'no_such_map' stayed empty")
    assert verdicts["right"] == ("pass", "")


def test_a_version_without_an_artifact_for_the_arch_is_unsupported_without_a_boot(
        registry, tmp_path):
    """bashreadline is one amd64 manifest (its config says so); execsnoop an image index
    of amd64 and arm64: the matrix skips the first on arm64, as a kernel below min_kernel."""
    from ecli.oci.reference import parse
    from ecli.oci.store import Store
    from generator import kernelmatrix

    env = {**os.environ, "ECLI_HOME": str(tmp_path / "home")}
    store = Store(tmp_path / "store")
    store.ensure()
    arches = {name: kernelmatrix._pulled_arches(parse(
        publish(ROOT / "examples" / name, registry, tmp_path, env)), store)
        for name in ("bashreadline", "execsnoop")}
    assert arches == {"bashreadline": {"amd64"}, "execsnoop": {"amd64", "arm64"}}
    test = {"trigger": "/bin/true", "expect": {"event": {"comm": "true"}}}
    for name, offered in arches.items():
        target = kernelmatrix.Target(name, "0.1.0", "sha256:0", test, "ref", offered)
        assert kernelmatrix._refusal(target, "amd64", "6.1.0-50-cloud-amd64") is None
        on_arm = kernelmatrix._refusal(target, "arm64", "6.1.0-50-cloud-arm64")
        assert on_arm == (pkgtest.Outcome("unsupported", "no linux/arm64 artifact")
                          if name == "bashreadline" else None)


def test_results_merge_by_kernel_and_drop_a_moved_pin(tmp_path):
    old = {"tool": {"1.0.0": [
        KernelResult("6.1.0-57-cloud-amd64", "x86_64", "fail", "old", "2026-01-01", "sha256:a"),
        KernelResult("6.1.0-57-cloud-arm64", "aarch64", "pass", "", "2026-01-01", "sha256:a")]}}
    new = {"tool": {"1.0.0": [
        KernelResult("6.1.0-57-cloud-amd64", "x86_64", "pass", "", "2026-02-02", "sha256:b")]}}
    path = tmp_path / "kernels.json"
    kernelresults.write(path, kernelresults.merge(old, new))
    merged = kernelresults.read(path)
    assert [(r.arch, r.result, r.digest) for r in merged["tool"]["1.0.0"]] == [
        ("aarch64", "pass", "sha256:a"), ("x86_64", "pass", "sha256:b")]
    assert [r.arch for r in kernelresults.for_version(merged, "tool", "1.0.0", "sha256:b")] == [
        "x86_64"]


@pytest.mark.parametrize(("content", "says"), [
    ("{", "cannot read the kernel results"),
    ('{"schema_version": 2, "packages": {}}', "not a kernel results file of schema_version 1"),
    ('{"schema_version": 1, "packages": {"t": {"1.0.0": [{"kernel": "6.1", "arch": "x86_64", '
     '"result": "maybe", "reason": "", "tested": "2026-01-01", "digest": "sha256:a"}]}}}',
     "result 'maybe' is not one of pass, fail, unsupported"),
    ('{"schema_version": 1, "packages": {"t": {"1.0.0": [{"kernel": "6.1"}]}}}',
     "packages: wrong shape"),
])
def test_a_bad_results_file_is_one_error_naming_it(tmp_path, content, says):
    path = tmp_path / "kernels.json"
    path.write_text(content)
    with pytest.raises(GeneratorError) as raised:
        kernelresults.read(path)
    (problem,) = raised.value.problems
    assert problem.file == str(path) and says in problem.message
    assert "\n" not in problem.render().split("\n")[0]


def test_a_bad_matrix_row_and_an_unknown_kernel_are_refused(tmp_path):
    matrix = tmp_path / "kernels.toml"
    matrix.write_text('[[kernel]]\nname = "x"\narch = "riscv64"\npackage = "linux-image-x"\n')
    with pytest.raises(guestkernels.KernelSetupError) as raised:
        guestkernels.read_matrix(matrix)
    assert str(raised.value) == (f"{matrix}: kernel #1: needs name, arch (amd64, arm64 or "
                                 "host) and package")
    done = generator("kernels", "--kernel", "no-such-kernel", "--results",
                     str(tmp_path / "out.json"))
    assert done.returncode == 1 and done.stderr == ""
    assert done.stdout.splitlines()[0] == (f"{guestkernels.MATRIX_FILE}:1:1: kernel: no kernel "
                                           "named no-such-kernel [kernels]")
    assert not (tmp_path / "out.json").exists()


def test_an_unknown_package_is_refused_before_anything_runs(tmp_path):
    done = generator("kernels", "--package", "execsnoop", "--package", "no-such-package",
                     "--work", str(tmp_path / "work"), "--results", str(tmp_path / "out.json"))
    assert done.returncode == 1 and done.stderr == ""
    assert done.stdout.splitlines()[0] == ("index/packages:1:1: package: no index "
                                           "entry named no-such-package [kernels]")
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "work").exists()


def test_no_guests_at_a_time_is_refused_before_anything_runs(tmp_path):
    done = generator("kernels", "--jobs", "0", "--work", str(tmp_path / "work"),
                     "--results", str(tmp_path / "out.json"))
    assert done.returncode == 1 and done.stderr == ""
    assert done.stdout.splitlines()[0] == (f"{guestkernels.MATRIX_FILE}:1:1: kernel: --jobs 0: "
                                           "at least one guest at a time [kernels]")
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "work").exists()


def test_each_boot_gets_a_sparse_empty_ext4_scratch_disk(tmp_path):
    image = guest.scratch_disk(tmp_path / "scratch.img")
    assert image.stat().st_size == guest.SCRATCH_MIB * 1024 * 1024
    assert image.stat().st_blocks * 512 < image.stat().st_size // 4  # sparse
    checked = subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = subprocess.run(["debugfs", "-R", "ls -p /", str(image)], capture_output=True,
                            text=True, check=True)
    assert [line.split("/")[5] for line in listed.stdout.split() if line] == [
        ".", "..", "lost+found"]


def test_a_kernel_apt_does_not_have_is_one_error_and_nothing_is_written(tmp_path):
    matrix = tmp_path / "kernels.toml"
    matrix.write_text('[[kernel]]\nname = "gone"\narch = "amd64"\n'
                      'package = "linux-image-no-such-thing"\n')
    done = generator("kernels", "--matrix", str(matrix), "--work", str(tmp_path / "work"),
                     "--results", str(tmp_path / "out.json"))
    assert done.returncode == 1 and done.stderr == ""
    assert done.stdout.splitlines()[0] == (
        f"{matrix}:1:1: kernel: apt-cache depends linux-image-no-such-thing:amd64 failed: "
        "E: No packages found [kernels]")
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "work").exists()


def _version(*kernels: tuple[str, str, str]) -> model.Version:
    return model.Version("1.0.0", "r/t:1.0.0", "r/t", "sha256:" + "0" * 64, kernels=tuple(
        model.KernelResult(kernel, arch, result, "", "2026-01-01")
        for kernel, arch, result in kernels))


def test_run_warns_outside_what_the_matrix_proved():
    version = _version(("6.1.0-57-cloud-amd64", "x86_64", "fail"),
                       ("6.12.117+deb12-cloud-amd64", "x86_64", "pass"))
    assert machine_warning("t", version, "6.18.44", "x86_64") is None
    assert machine_warning("t", version, "6.6.0", "x86_64") == (
        "t 1.0.0: this kernel (6.6.0) is older than every kernel it passed on "
        "(oldest: 6.12.117+deb12-cloud-amd64); it may not load here")
    assert machine_warning("t", version, "6.18.44", "aarch64") == (
        "t 1.0.0 was never tested on aarch64 by the hub (tested on x86_64)")
    assert machine_warning("t", _version(), "5.4.0", "riscv64") is None  # never run: no claim


@pytest.fixture(scope="module")
def matrix(registry, tmp_path_factory) -> Path:
    """CI_GUEST_PACKAGES and bswapcount in a copy of index/, run through the guests once."""
    tmp = tmp_path_factory.mktemp("matrix")
    env = {**os.environ, "ECLI_HOME": str(tmp / "home")}
    index = published_index((*CI_GUEST_PACKAGES, BELOW_MIN_KERNEL), registry, tmp, env)
    publish(BROKEN, registry, tmp, env)
    (index / "packages" / "bswapcount.yaml").write_text(BROKEN_ENTRY.format(host=registry.host))
    resolved = generator("resolve", "--index", str(index))
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    guests = generator("kernels", "--index", str(index), "--work", str(WORK),
                       "--kernel", "debian-6.1-amd64", "--kernel", "debian-6.1-arm64")
    assert guests.returncode == 0, guests.stdout + guests.stderr
    newer = generator("kernels", "--index", str(index), "--package", "bswapcount",
                      "--work", str(WORK), "--kernel", "debian-6.12-amd64", "--kernel", "host")
    assert newer.returncode == 0, newer.stdout + newer.stderr
    return index


def _results(index: Path) -> dict[tuple[str, str], KernelResult]:
    found = kernelresults.read(index / "kernels.json")
    return {(name, r.kernel): r for name, versions in found.items()
            for records in versions.values() for r in records}


def test_ci_guest_packages_are_entries_of_the_index():
    assert set(CI_GUEST_PACKAGES) <= set(ENTRIES)


def test_catalog_passes_on_debian_6_1_amd64_and_arm64(matrix):
    results = _results(matrix)
    assert {name for name, _kernel in results} == {*CI_GUEST_PACKAGES, BELOW_MIN_KERNEL,
                                                   "bswapcount"}
    amd64 = guestkernels.resolve_package("linux-image-cloud-amd64", "amd64").removeprefix(
        "linux-image-")
    arm64 = guestkernels.resolve_package("linux-image-cloud-arm64", "arm64").removeprefix(
        "linux-image-")
    for name in CI_GUEST_PACKAGES:
        assert results[(name, amd64)].result == "pass", results[(name, amd64)].reason
        on_arm = results[(name, arm64)]
        assert on_arm.arch == "aarch64"
        if name == "bashreadline":  # built for amd64 only: not run there, no boot needed
            assert (on_arm.result, on_arm.reason) == ("unsupported", "no linux/arm64 artifact")
        else:
            assert on_arm.result == "pass", on_arm.reason
    for kernel in (amd64, arm64):  # skipped before any boot: the entry says it cannot load
        skipped = results[(BELOW_MIN_KERNEL, kernel)]
        assert (skipped.result, skipped.reason) == (
            "unsupported", "needs Linux 6.14 or later (requirements.min_kernel)")


def test_broken_package_fails_on_6_1_with_the_verifiers_reason_up_to_the_page(
        matrix, tmp_path):
    results = {kernel: r for (name, kernel), r in _results(matrix).items()
               if name == "bswapcount"}
    old = next(r for k, r in results.items() if k.startswith("6.1.0-") and r.arch == "x86_64")
    new = next(r for k, r in results.items() if k.startswith("6.12."))
    assert old.result == "fail" and "unknown opcode d7" in old.reason
    assert "the kernel verifier rejected the program" in old.reason
    assert new.result == "pass" and new.reason == ""
    out = tmp_path / "site"
    built = generator("build", "--index", str(matrix), "--offline", "--out", str(out),
                      "--config", str(ROOT / "mkdocs.yml"))
    assert built.returncode == 0, built.stdout + built.stderr
    document = json.loads((out / "api/v1/packages/bswapcount.json").read_text())
    shown = {k["kernel"]: k for k in document["versions"][0]["kernels"]}
    assert shown[old.kernel]["result"] == "fail" and "unknown opcode d7" in shown[
        old.kernel]["reason"]
    assert shown[new.kernel] == {"kernel": new.kernel, "arch": "x86_64", "result": "pass",
                                 "reason": "", "tested": new.tested}
    env = {**os.environ, "ECLI_HOME": str(tmp_path / "home"), "ECLI_DEFAULT_SOURCE": ""}
    assert run_ecli("sources", "add", "test", str(out / "api/v1"), env=env).returncode == 0
    info = run_ecli("info", "bswapcount", env=env)
    assert info.returncode == 0, info.stderr
    row = next(line for line in info.stdout.splitlines() if line.startswith(old.kernel))
    assert row.split()[1:3] == ["x86_64", "fail"] and "unknown opcode d7" in row
    older = run_ecli("search", "bswap", "--kernel", "6.6.0", env=env)  # 6.1 failed, 6.12 passed
    assert older.returncode == 1 and "no packages proven on 6.6.0 match 'bswap'" in older.stdout
    newer = run_ecli("-q", "search", "bswap", "--kernel", "6.12.200", env=env)
    assert newer.returncode == 0 and newer.stdout.split() == ["bswapcount"]
    _page_shows_the_matrix(out, old.kernel, new.kernel)


def _page_shows_the_matrix(out: Path, old: str, new: str) -> None:
    from playwright.sync_api import sync_playwright
    from test_site_browser import CHROMIUM, CHROMIUM_ARGS, _serve

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(_serve(str(out)) + "packages/bswapcount/")
            failed = page.locator(f'tr.hub-kernel[data-kernel="{old}"] .hub-kresult')
            assert failed.inner_text() == "fail" and failed.is_visible()
            assert failed.evaluate("e => getComputedStyle(e).backgroundColor") == (
                "rgb(198, 40, 40)")
            passed = page.locator(f'tr.hub-kernel[data-kernel="{new}"] .hub-kresult')
            assert passed.inner_text() == "pass"
            reason = page.locator("tr.hub-kernel-reason details").first
            reason.locator("summary").click()
            assert "unknown opcode d7" in reason.locator("pre").inner_text()
        finally:
            browser.close()
