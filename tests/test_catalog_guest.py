"""funclatency and fsslower in one guest kernel, through each index entry's own `test`
as the kernel matrix runs it (generator/pkgtest.py inside the guest): Debian's 6.1 arm64
kernel under qemu, an older kernel than the host's and the other architecture, so the
arm64 objects (ecli.h's arm64 registers, CO-RE reads of the file table) are proven too.
Bounded: two packages, one boot (three to five minutes under TCG on a shared machine).
"""

from __future__ import annotations

import os

import pytest
from test_kernel_matrix import WORK, generator, published_index

from generator import guestkernels, kernelresults

pytestmark = pytest.mark.root
GUEST_PACKAGES = ("fsslower", "funclatency")
KERNEL = "debian-6.1-arm64"


@pytest.fixture(scope="module")
def guest_results(registry, tmp_path_factory) -> dict[str, kernelresults.KernelResult]:
    tmp = tmp_path_factory.mktemp("guest")
    env = {**os.environ, "ECLI_HOME": str(tmp / "home")}
    # featured.yaml names packages this copy drops
    index = published_index(GUEST_PACKAGES, registry, tmp, env, ignore=("featured.yaml",))
    resolved = generator("resolve", "--index", str(index))
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    ran = generator("kernels", "--index", str(index), "--work", str(WORK), "--kernel", KERNEL,
                    timeout=900)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    found = kernelresults.read(index / "kernels.json")
    return {name: record for name, versions in found.items()
            for records in versions.values() for record in records}


def test_funclatency_and_fsslower_pass_their_own_tests_on_debian_6_1_arm64(guest_results):
    arm64 = guestkernels.resolve_package("linux-image-cloud-arm64", "arm64").removeprefix(
        "linux-image-")
    assert set(guest_results) == set(GUEST_PACKAGES)
    for name, result in guest_results.items():
        assert (result.kernel, result.arch) == (arm64, "aarch64"), name
        assert result.result == "pass", f"{name}: {result.reason}"
