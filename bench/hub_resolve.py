"""Resolving many tags to digests against the local registry (CNCF distribution).

    python bench/hub_resolve.py [--refs 1000]

Starts docker-registry on a free port of 127.0.0.1, pushes REFS small
manifests under distinct tags (200 repositories x 5 tags for 1,000), writes an
index naming them all, then times `generator resolve` from an empty lock
(REFS requests through ecli's registry client, 8 at a time) and again with the
lock complete (no request). Prints a Markdown table. Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from generator import commands  # noqa: E402

from registry_server import running_registry, upload_blob  # noqa: E402

VERSIONS = 5
CONFIG = b"{}"
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refs", type=int, default=1000)
    args = parser.parse_args(argv)
    packages = max(args.refs // VERSIONS, 1)
    work = Path(tempfile.mkdtemp(prefix="hub-resolve-"))
    rows = []
    try:
        with running_registry(storage=work / "registry") as registry:
            started = time.monotonic()
            for name in range(packages):  # the blob once per repository (cross-mount aside)
                upload_blob(registry.host, f"bench/tool{name}", CONFIG)
            jobs = [(registry.host, f"bench/tool{n}", f"1.{v}.0") for n in range(packages)
                    for v in range(VERSIONS)]
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda job: push_manifest(*job), jobs))
            rows.append((f"push {len(jobs)} manifests (set-up, not measured)",
                         f"{time.monotonic() - started:.1f} s"))
            index = write_index(work, registry.host, packages)
            opts = commands.options(index)
            started = time.monotonic()
            first = commands.resolve_lock(opts)
            rows.append((f"resolve {first.versions} tags from an empty lock",
                         f"{time.monotonic() - started:.2f} s, {first.requests} requests"))
            started = time.monotonic()
            again = commands.resolve_lock(opts)
            rows.append(("resolve again, lock complete",
                         f"{time.monotonic() - started:.2f} s, {again.requests} requests"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    return 0


def print_table(rows: list[tuple[str, str]]) -> None:
    """The machine, then the rows as a Markdown table (what, figure)."""
    print(f"\n### {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, docker-registry on 127.0.0.1\n")
    width = max(len(r[0]) for r in rows)
    print(f"| {'what'.ljust(width)} | figure |\n| {'-' * width} | ------ |")
    for what, figure in rows:
        print(f"| {what.ljust(width)} | {figure} |")


def push_manifest(host: str, repository: str, tag: str) -> None:
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.ebpfhub.bench.v1",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": CONFIG_DIGEST,
                   "size": len(CONFIG)},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": CONFIG_DIGEST,
                    "size": len(CONFIG)}],
        "annotations": {"org.opencontainers.image.version": tag},
    }).encode()
    urllib.request.urlopen(urllib.request.Request(
        f"http://{host}/v2/{repository}/manifests/{tag}", data=manifest, method="PUT",
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})).close()


def write_index(work: Path, host: str, packages: int, header: str = "") -> Path:
    """An index of `packages` entries of VERSIONS versions each; `header`: more YAML keys."""
    index = work / "index"
    shutil.copytree(ROOT / "index" / "schema", index / "schema")
    (index / "packages").mkdir()
    for n in range(packages):
        versions = "".join(f"  - version: 1.{v}.0\n    ref: {host}/bench/tool{n}:1.{v}.0\n"
                           for v in reversed(range(VERSIONS)))
        (index / "packages" / f"tool{n}.yaml").write_text(
            f"name: tool{n}\nkind: bpf\nsummary: bench tool {n}\nowners: [bench]\n"
            f"license: MIT\n{header}versions:\n{versions}")
    return index


if __name__ == "__main__":
    sys.exit(main())
