"""The generator verifying every version's signature, beside cosign, in one run.

    python bench/hub_signatures.py [--versions 10000] [--cosign-samples 20]

Starts docker-registry on a free port of 127.0.0.1, pushes VERSIONS small
manifests (VERSIONS / 5 repositories x 5 tags), signs each with `ecli sign`'s
code (ECDSA P-256, cosign's `.sig` tag), writes an index whose entries declare
that key as `signer:`, then times `generator resolve` from an empty lock (every
tag resolved, every signature fetched and checked, 8 at a time) and again with
the lock complete (nothing asked, nothing checked again). For comparison,
`cosign verify --key --insecure-ignore-tlog` of a sample of the same
artifacts, one process each, as a publisher would check them by hand, gives
cosign's time per version. cosign is .run/bin/cosign (`make cosign`).
Set-up (pushing, signing) is reported but not part of the figures. Not a test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from hub_resolve import CONFIG, VERSIONS, print_table, push_manifest, write_index  # noqa: E402

from ecli.oci import reference  # noqa: E402
from ecli.trust import keys  # noqa: E402
from ecli.trust.sign import sign_artifact  # noqa: E402
from generator import commands  # noqa: E402

from registry_server import running_registry, upload_blob  # noqa: E402

COSIGN = ROOT / ".run" / "bin" / "cosign"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=10000)
    parser.add_argument("--cosign-samples", type=int, default=20)
    args = parser.parse_args(argv)
    packages = max(args.versions // VERSIONS, 1)
    work = Path(tempfile.mkdtemp(prefix="hub-signatures-"))
    rows: list[tuple[str, str]] = []
    try:
        private, public = keys.generate(work / "keys")
        key = keys.load_private(private)
        with running_registry(storage=work / "registry") as registry:
            jobs = [(registry.host, f"bench/tool{n}", f"1.{v}.0") for n in range(packages)
                    for v in range(VERSIONS)]
            started = time.monotonic()
            for n in range(packages):
                upload_blob(registry.host, f"bench/tool{n}", CONFIG)
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda job: push_manifest(*job), jobs))
                list(pool.map(lambda job: sign_artifact(
                    reference.parse(f"{job[0]}/{job[1]}:{job[2]}"), key), jobs))
            rows.append((f"push and sign {len(jobs)} versions (set-up, not measured)",
                         f"{time.monotonic() - started:.1f} s"))
            pem = public.read_text()
            signer = "signer:\n  key: |\n" + "".join(f"    {line}\n" for line in
                                                      pem.strip().splitlines())
            index = write_index(work, registry.host, packages, header=signer)
            opts = commands.options(index)
            started = time.monotonic()
            first = commands.resolve_lock(opts)
            elapsed = time.monotonic() - started
            rows.append((f"generator: resolve and verify {first.versions} versions, cold",
                         f"{elapsed:.1f} s ({elapsed / first.versions * 1000:.2f} ms each), "
                         f"{first.requests} requests"))
            started = time.monotonic()
            again = commands.resolve_lock(opts)
            rows.append(("generator: again, nothing changed",
                         f"{time.monotonic() - started:.2f} s, {again.requests} requests"))
            rows.append(_cosign(jobs[:args.cosign_samples], public, first.versions))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    return 0


def _cosign(sample: list[tuple[str, str, str]], public: Path, total: int) -> tuple[str, str]:
    if not COSIGN.exists():
        return ("cosign verify", "not built: run `make cosign`")
    times = []
    for host, repository, tag in sample:
        started = time.monotonic()
        subprocess.run([str(COSIGN), "verify", "--key", str(public), "--insecure-ignore-tlog",
                        "--allow-insecure-registry", f"{host}/{repository}:{tag}"],
                       check=True, capture_output=True)
        times.append(time.monotonic() - started)
    each = statistics.median(times)
    return (f"cosign verify, one process per version (median of {len(sample)})",
            f"{each * 1000:.1f} ms each; {total} versions would take {each * total:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
