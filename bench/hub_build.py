"""Generator figures at hub scale: full build, rebuilds, site size, search index size.

    python bench/hub_build.py [--packages 10000] [--versions 5] [--work DIR]

Writes a synthetic index (bench/hub_synth.py: lock and inspections included,
so everything is offline) and measures, in one run:

  * a full build (validate, pages, api/v1, search index) into an empty folder,
    without the build cache, then again with an empty cache (a cold build);
  * a rebuild with nothing changed, with the cache, not offline, through the
    command line in its own process (as CI runs it), with its registry requests;
  * the same after one package changed (a new version pinned by digest, so it
    is resolved without a request, and a new summary);
  * the site's size (bytes written, and disk blocks) and its file count;
  * the search index: the head and the largest term shard, gzipped.

Prints a Markdown table. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from generator import commands, inspection  # noqa: E402

import hub_synth  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="hub-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    started = time.monotonic()
    index = hub_synth.write(work, args.packages, args.versions)
    # laid out as `generator inspect` writes it (one digest per line), as in CI
    inspected = index / inspection.INSPECTION_FILE
    inspection.write(inspected, inspection.read(inspected))
    rows.append(("write synthetic index (not part of a build)",
                 f"{time.monotonic() - started:.1f} s"))
    cache = work / "cache"
    out = work / "site"
    os.sync()  # each build starts with no other build's writes still being flushed
    full = commands.build(commands.options(index, config_file=ROOT / "mkdocs.yml",
                                           offline=True, stats_file=work / "stats.json"), out)
    rows.append((f"full build, no cache, {args.packages} packages x {args.versions} versions "
                 f"({full.pages} pages)", f"{full.seconds:.1f} s"))
    written, blocks, files = _size(out)
    rows.append(("site size: bytes written / disk blocks", f"{written / 1e6:.0f} MB / "
                 f"{blocks / 1e6:.0f} MB ({files} files)"))
    search = out / "api" / "v1" / "search"
    head = _gz(search / "index.json")
    shard = max((_gz(p), p.name) for p in (search / "terms").glob("*.json"))
    rows.append(("search head, gzipped", f"{head / 1e3:.0f} KB"))
    rows.append((f"largest term shard ({shard[1]}), gzipped", f"{shard[0] / 1e3:.0f} KB"))
    os.sync()
    cold = commands.build(commands.options(index, config_file=ROOT / "mkdocs.yml",
                                           offline=True, stats_file=work / "stats.json",
                                           cache_dir=cache), out)
    rows.append(("cold build, empty cache (fills it)",
                 f"{cold.seconds:.1f} s, {cold.rendered} pages rendered"))
    rows.append(("build cache size", f"{_size(cache)[1] / 1e6:.0f} MB on disk (objects are "
                 "hard links to the site's files)"))
    again = _cli_build(index, out, cache, work / "stats.json")
    rows.append(("rebuild with the cache, nothing changed (CLI, not offline)", again))
    _change_one(index)
    changed = _cli_build(index, out, cache, work / "stats.json")
    rows.append(("rebuild with the cache, one package changed (new version, summary)", changed))
    print(f"\n### {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}\n")
    width = max(len(r[0]) for r in rows)
    print(f"| {'what'.ljust(width)} | figure |\n| {'-' * width} | ------ |")
    for what, figure in rows:
        print(f"| {what.ljust(width)} | {figure} |")
    print(f"\n(work folder {work})")
    return 0


def _cli_build(index: Path, out: Path, cache: Path, stats: Path) -> str:
    """`python -m generator build` in its own process, as CI and people run it.

    Not offline: every tag is in the lock, so it asks no registry (the
    synthetic refs name ghcr.io, unreachable here: a request would fail).
    """
    os.sync()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--index", str(index), "--out", str(out),
         "--cache", str(cache), "--stats", str(stats), "--config", str(ROOT / "mkdocs.yml")],
        cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.monotonic() - started
    line = done.stdout.strip().splitlines()[-1]
    reused = line.split(" package page(s) from the cache")[0].rsplit(" ", 1)[1]
    validated = line.split(" entry file(s) validated")[0].rsplit(" ", 1)[1]
    requests = line.split(" registry request(s)")[0].rsplit(" ", 1)[1]
    return (f"{wall:.1f} s wall, {requests} registry requests, {validated} files validated, "
            f"{reused} pages from the cache")


def _change_one(index: Path) -> None:
    entry = sorted((index / "packages").glob("*.yaml"))[0]
    text = entry.read_text()
    digest = "sha256:" + hashlib.sha256(b"bench change").hexdigest()
    name = entry.stem
    text = text.replace("summary: \"", "summary: \"Changed: ", 1)
    text = text.replace("versions:\n", f"versions:\n  - version: 9.0.0\n"
                        f"    ref: ghcr.io/bench/{name}@{digest}\n", 1)
    entry.write_text(text)


def _size(folder: Path) -> tuple[int, int, int]:
    written = blocks = files = 0
    for path in folder.rglob("*"):
        info = path.lstat()
        blocks += info.st_blocks * 512
        if path.is_file():
            written += info.st_size
            files += 1
    return written, blocks, files


def _gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 6))


if __name__ == "__main__":
    sys.exit(main())
