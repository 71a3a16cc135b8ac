"""What verifying by default adds to `ecli run` of a cached, signed hub package.

    python bench/run_verify.py [--runs N]

One bundle package is pushed to a local docker-registry, signed with `ecli sign`,
published by the generator (which records its signer) and pulled once. Then
the whole `ecli run NAME` process (spawn to exit; the bundle prints one line
and exits, so everything before its first output is ecli's) is timed with the
source's `signatures = warn` (the default: the signature is checked from the
store, offline) and `signatures = off` (no check). The difference is what
verification costs a cached run. Figures are medians. Not a test: nothing here
asserts.
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

from pm_fixtures import push_bundle  # noqa: E402
from registry_server import running_registry  # noqa: E402

os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # users have compiled bytecode


def ecli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "ecli", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def median_run(env: dict[str, str], runs: int) -> float:
    ecli(env, "run", "--yes", "--pull", "never", "timed")  # warm up; --yes: `off` asks
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        ecli(env, "run", "--yes", "--pull", "never", "timed")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch, running_registry() as registry:
        tmp = Path(scratch)
        env = {**os.environ, "ECLI_HOME": str(tmp / "home"), "ECLI_DEFAULT_SOURCE": "",
               "PYTHONPATH": str(ROOT)}
        push_bundle(registry.host, tmp, "timed", "1.0.0")
        ref = f"{registry.host}/pm/timed:1.0.0"
        private, public = keys.generate(tmp / "keys")
        ecli(env, "sign", ref, "--key", str(private))
        index = tmp / "index"
        (index / "packages").mkdir(parents=True)
        subprocess.run(["cp", "-r", str(ROOT / "index" / "schema"), str(index)], check=True)
        pem = "".join(f"    {line}\n" for line in public.read_text().strip().splitlines())
        (index / "packages" / "timed.yaml").write_text(
            "name: timed\nkind: bundle\nsummary: timed\nowners: [ebpfhub]\nlicense: MIT\n"
            f"signer:\n  key: |\n{pem}versions:\n  - {{version: 1.0.0, ref: '{ref}'}}\n")
        subprocess.run([sys.executable, "-m", "generator", "build", "--index", str(index),
                        "--out", str(tmp / "site"), "--config", str(ROOT / "mkdocs.yml")],
                       check=True, cwd=tmp, env=env, stdout=subprocess.DEVNULL)
        api = str(tmp / "site" / "api" / "v1")
        figures: dict[str, list[float]] = {}
        ecli(env, "sources", "add", "hub", api)
        ecli(env, "pull", "timed")  # the artifact and its signature, into the store
        for policy in ("off", "warn", "off", "warn"):  # interleaved against drift
            ecli(env, "sources", "add", "hub", api, "--signatures", policy)
            figures.setdefault(policy, []).append(median_run(env, runs))
    off, warn = min(figures["off"]), min(figures["warn"])
    print(f"ecli run of a cached signed bundle, whole process, median of {runs} (best of 2):")
    print(f"  signatures = off  (no check)            {off * 1000:7.1f} ms")
    print(f"  signatures = warn (checked from store)  {warn * 1000:7.1f} ms")
    print(f"  verification adds                       {(warn - off) * 1000:7.1f} ms "
          "(budget: 20 ms)")


if __name__ == "__main__":
    main()
