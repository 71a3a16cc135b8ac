"""`ecli verify --offline` of a cached package beside `cosign verify` of the same artifact.

    python bench/verify.py [--runs N]

Both whole processes, key-based, no transparency log: a package is pushed to a
local registry (docker-registry), signed by `ecli sign` (ECDSA P-256), pulled
into ecli's store; then, timed: `ecli verify --offline` (the store only),
`ecli verify` (the registry: resolve, signature manifest, payload) and
`cosign verify --key --insecure-ignore-tlog` (the registry), beside
`python -c pass` and `ecli --help` (the floors); the same for a package signed
with a Sigstore bundle attached as a referrer (`ecli sign --bundle`); and the
keyless check of a recorded production bundle (tests/sigstore/), offline,
through `ecli.trust.keyless.verify` beside `cosign verify-blob --offline` with
the trust root sigstore-python ships. cosign is .run/bin/cosign (`make
cosign`). Medians; nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from ecli.trust import keys  # noqa: E402

from registry_server import running_registry  # noqa: E402
from test_registry import push_junk  # noqa: E402

COSIGN = ROOT / ".run" / "bin" / "cosign"
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # users have compiled bytecode


def median_wall(command: list[str], runs: int, env: dict[str, str]) -> float:
    subprocess.run(command, check=True, capture_output=True, env=env)  # warm up, and check
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def keyless_rows(runs: int, env: dict[str, str]) -> list[tuple[str, float]]:
    """The recorded keyless bundle, offline: ecli's check and cosign's, whole processes."""
    from sigstore import _store

    bundle = ROOT / "tests" / "sigstore" / "rfc8785-0.1.2-py3-none-any.whl.sigstore"
    wheel = bundle.with_suffix("")
    identity = ("https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml"
                "@refs/tags/v0.1.2")
    issuer = "https://token.actions.githubusercontent.com"
    root = Path(_store.__file__).parent / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / \
        "trusted_root.json"
    check = ("import hashlib, sys; from pathlib import Path; "
             "from ecli.trust import bundle, keyless; "
             "raw = Path(sys.argv[1]).read_bytes(); "
             "digest = 'sha256:' + hashlib.sha256(Path(sys.argv[2]).read_bytes()).hexdigest(); "
             "keyless.verify(bundle.read(raw, 'b'), keyless.Identity(sys.argv[3], sys.argv[4]), "
             "'r', digest, 'b')")
    return [
        ("ecli keyless check (offline)", median_wall(
            [sys.executable, "-c", check, str(bundle), str(wheel), identity, issuer], runs,
            env)),
        ("cosign verify-blob keyless (offline)", median_wall(
            [str(COSIGN), "verify-blob", "--bundle", str(bundle), "--new-bundle-format",
             "--offline", "--trusted-root", str(root), "--certificate-identity", identity,
             "--certificate-oidc-issuer", issuer, str(wheel)], runs, env)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    ecli = [sys.executable, "-m", "ecli"]
    with running_registry() as registry, tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        env = {**os.environ, "ECLI_HOME": str(tmp / "home"), "HOME": str(tmp)}
        ref, _, _ = push_junk(tmp, registry.host, "benchverify", os.urandom(4096))
        private, public = keys.generate(tmp / "keys")
        subprocess.run([*ecli, "sign", str(ref), "--key", str(private)], check=True, env=env,
                       capture_output=True)
        subprocess.run([*ecli, "pull", str(ref)], check=True, env=env, capture_output=True)
        bundled, _, _ = push_junk(tmp, registry.host, "benchbundle", os.urandom(4096))
        subprocess.run([*ecli, "sign", str(bundled), "--key", str(private), "--bundle"],
                       check=True, env=env, capture_output=True)
        subprocess.run([*ecli, "pull", str(bundled)], check=True, env=env, capture_output=True)
        rows = [
            ("python -c pass", median_wall([sys.executable, "-c", "pass"], args.runs, env)),
            ("ecli --help (ecli's own start)", median_wall([*ecli, "--help"], args.runs, env)),
            ("ecli verify --offline (store)", median_wall(
                [*ecli, "verify", str(ref), "--key", str(public), "--offline"], args.runs, env)),
            ("ecli verify (registry)", median_wall(
                [*ecli, "verify", str(ref), "--key", str(public)], args.runs, env)),
            ("cosign verify (registry)", median_wall(
                [str(COSIGN), "verify", "--key", str(public), "--insecure-ignore-tlog",
                 "--allow-insecure-registry", str(ref)], args.runs, env)),
            ("ecli verify --offline (store, bundle)", median_wall(
                [*ecli, "verify", str(bundled), "--key", str(public), "--offline"], args.runs,
                env)),
            ("ecli verify (registry, bundle)", median_wall(
                [*ecli, "verify", str(bundled), "--key", str(public)], args.runs, env)),
            *keyless_rows(args.runs, {**env, "HTTPS_PROXY": "http://127.0.0.1:9"}),
        ]
    width = max(len(name) for name, _ in rows)
    print(f"{'whole process, median of ' + str(args.runs):<{width}}  ms")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1000:7.1f}")


if __name__ == "__main__":
    main()
