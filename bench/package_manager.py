"""Package-manager figures of ecli, side by side with skopeo where it has a peer, in one run.

    python bench/package_manager.py [--runs N]

Prints a table:
  * `ecli --help`;
  * `ecli search trace` over a 10,000-package catalog (from the cache);
  * `ecli update` with nothing changed, over HTTP: one conditional request (304)
    per source; the requests are counted. The catalog is a signed index (its
    hub key pinned with `sources add --key`), so `update` also runs after a
    new signed root whose catalog did not change: the root is the only request,
    its signature checked;
  * pulling a 20 MB bundle from the local registry into an empty store with
    `ecli pull`, beside `skopeo copy` of the same artifact into a local OCI
    folder, alternating, in the same run.
Medians over the runs, after one warm-up each. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from ecli.hubindex import model  # noqa: E402
from ecli.trust.keys import generate, load_private  # noqa: E402
from generator import rootsign  # noqa: E402

from index_fixtures import serve  # noqa: E402
from pm_fixtures import push_bundle  # noqa: E402
from registry_server import running_registry  # noqa: E402

os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # users have compiled bytecode
ECLI = [sys.executable, "-m", "ecli"]
WORDS = ("trace", "tcp", "open", "exec", "latency", "disk", "net", "sched", "file", "mem")


def wall(command: list[str], runs: int, env: dict[str, str],
         before: object = None) -> float:
    times = []
    for i in range(runs + 1):
        if callable(before):
            before()
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        if i:  # the first run warms caches up
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def big_catalog(folder: Path, key: Path, count: int = 10_000) -> Path:
    """A catalog of `count` packages, its root signed by `key` as the generator signs it."""
    folder.mkdir(parents=True, exist_ok=True)
    generated = "2026-11-25T00:00:00Z"
    entries = tuple(model.CatalogEntry(
        name=f"pkg-{i:05d}", summary=f"{WORDS[i % 10]} tool number {i} for {WORDS[(i // 10) % 10]}",
        kind="bpf", latest="1.0.0", keywords=(WORDS[i % 7], WORDS[i % 3]),
        categories=("observability",), owners=("bench",)) for i in range(count))
    (folder / model.CATALOG_FILE).write_bytes(model.dump(model.Catalog(1, generated, entries)))
    resign(folder, key, 0)
    return folder


def resign(folder: Path, key: Path, seconds: int) -> None:
    """A new signed root, `seconds` after the first, listing the same catalog."""
    generated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1795000000 + seconds))
    rootsign.write(folder, model.Root(1, generated), load_private(key))
    later = time.time() + 10 + seconds  # Last-Modified: one-second resolution
    os.utime(folder / model.ROOT_FILE, (later, later))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="ecli-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "ECLI_HOME": str(tmp / "home"), "ECLI_DEFAULT_SOURCE": ""}
        rows.append(("ecli --help", f"{wall([*ECLI, '--help'], args.runs, env):.3f}"))
        key, public = generate(tmp / "hub-key")
        site = big_catalog(tmp / "site" / "api" / "v1", key)
        with serve(tmp / "site") as (base, seen):
            subprocess.run([*ECLI, "sources", "add", "big", base + "api/v1/", "--key",
                            str(public)], env=env, check=True, stdout=subprocess.DEVNULL)
            subprocess.run([*ECLI, "update"], env=env, check=True, stdout=subprocess.DEVNULL)
            for term, note in (("latency disk", "687 hits"), ("trace", "5,372 hits")):
                search = wall([*ECLI, "search", term], args.runs, env)
                rows.append((f"ecli search '{term}' (10,000 packages, {note})", f"{search:.3f}"))
            seen.clear()
            update = wall([*ECLI, "update"], args.runs, env)
            per_run = len(seen) / (args.runs + 1)
            codes = sorted({code for _, code in seen})
            rows.append((f"ecli update, unchanged ({per_run:.0f} request/run, HTTP "
                         f"{','.join(codes)})", f"{update:.3f}"))
            count = iter(range(1, 1000))
            seen.clear()
            resigned = wall([*ECLI, "update"], args.runs, env,
                            before=lambda: resign(site, key, next(count)))
            per_run = len(seen) / (args.runs + 1)
            codes = sorted({code for _, code in seen})
            rows.append((f"ecli update, new signed root, same catalog ({per_run:.0f} "
                         f"request/run, HTTP {','.join(codes)})", f"{resigned:.3f}"))
        with running_registry() as registry:
            payload = os.urandom(20 << 20)
            digest = push_bundle(registry.host, tmp / "push", "big", "1.0.0", payload)
            ref = f"{registry.host}/pm/big@{digest}"
            pull_home = tmp / "pull-home"
            skopeo_dir = tmp / "skopeo"
            pull_env = {**env, "ECLI_HOME": str(pull_home)}

            def fresh_store() -> None:
                shutil.rmtree(pull_home, ignore_errors=True)

            def fresh_folder() -> None:
                shutil.rmtree(skopeo_dir, ignore_errors=True)

            ecli_times, skopeo_times = [], []
            for i in range(args.runs + 1):  # alternate, so both see the same machine state
                fresh_store()
                start = time.perf_counter()
                subprocess.run([*ECLI, "pull", ref], env=pull_env, check=True,
                               stdout=subprocess.DEVNULL)
                elapsed_ecli = time.perf_counter() - start
                fresh_folder()
                start = time.perf_counter()
                subprocess.run(["skopeo", "copy", "--src-tls-verify=false",
                                f"docker://{ref}", f"oci:{skopeo_dir}:big"], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                elapsed_skopeo = time.perf_counter() - start
                if i:
                    ecli_times.append(elapsed_ecli)
                    skopeo_times.append(elapsed_skopeo)
            ecli_pull, skopeo_pull = statistics.median(ecli_times), statistics.median(
                skopeo_times)
            rows.append(("ecli pull, 20 MB bundle, empty store", f"{ecli_pull:.3f}"))
            rows.append(("skopeo copy, same artifact, to an OCI folder", f"{skopeo_pull:.3f}"))
            rows.append(("ratio ecli / skopeo", f"{ecli_pull / skopeo_pull:.2f}x"))
    print(f"### {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
          f"kernel {platform.release()}, Python {platform.python_version()}")
    print()
    width = max(len(what) for what, _ in rows)
    print(f"| {'what':<{width}} | seconds |")
    print(f"| {'-' * width} | ------- |")
    for what, value in rows:
        print(f"| {what:<{width}} | {value:>7} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
