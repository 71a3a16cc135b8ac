"""The three commands as functions that return data or raise `GeneratorError`.

`__main__` parses flags into `Options`, calls one of these and renders the
result; nothing here prints. The registry resolver can be swapped for tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from generator import checkpr, emit, fill, inspection, lock, pages, site, stats
from generator.entry import Index
from generator.problems import GeneratorError
from generator.resolve import Resolver, resolve
from generator.validate import validate_index


@dataclass(frozen=True)
class Options:
    index_dir: Path
    lock_file: Path
    config_file: Path
    offline: bool = False
    refresh: bool = False
    resolver: Resolver | None = None
    inspection_file: Path | None = None
    stats_file: Path | None = None
    fail_on_moved: bool = False


@dataclass(frozen=True)
class ValidateResult:
    files: int
    packages: int


@dataclass(frozen=True)
class ResolveResult:
    versions: int
    requests: int
    lock_written: bool
    moved: tuple[str, ...] = ()


@dataclass(frozen=True)
class InspectResult:
    digests: int
    pulled: int
    written: bool
    dangerous: tuple[str, ...]  # "name version: permission", for reviewers


@dataclass(frozen=True)
class BuildResult:
    out: Path
    packages: int
    pages: int
    requests: int
    lock_written: bool
    seconds: float


def options(index_dir: Path, *, lock_file: Path | None = None, config_file: Path | None = None,
            offline: bool = False, refresh: bool = False, resolver: Resolver | None = None,
            inspection_file: Path | None = None, stats_file: Path | None = None,
            fail_on_moved: bool = False) -> Options:
    """Defaults follow the repository layout: lock and inspections in the index,
    mkdocs.yml beside it."""
    return Options(index_dir, lock_file or index_dir / lock.LOCK_FILE,
                   config_file or index_dir.resolve().parent / "mkdocs.yml", offline, refresh,
                   resolver, inspection_file or index_dir / inspection.INSPECTION_FILE,
                   stats_file, fail_on_moved)


def validate(index_dir: Path, files: list[Path] | None = None) -> ValidateResult:
    result = validate_index(index_dir, files)
    if result.problems:
        raise GeneratorError(result.problems)
    return ValidateResult(result.files, len(result.index.entries))


def resolve_lock(opts: Options) -> ResolveResult:
    index = _valid_index(opts.index_dir)
    requests, written, moved = _update_lock(index, opts)
    return ResolveResult(sum(len(e.versions) for e in index.entries.values()), requests, written,
                         moved)


def build(opts: Options, out: Path) -> BuildResult:
    started = time.monotonic()
    index = _valid_index(opts.index_dir)
    requests, written, _ = (0, False, ()) if opts.offline else _update_lock(index, opts)
    locked = lock.read(opts.lock_file)
    problems = emit.check_lock(index, locked)
    if problems:
        raise GeneratorError(problems)
    site.check_target(out)
    inspected = inspection.read(opts.inspection_file) if opts.inspection_file else {}
    popularity = stats.read(opts.stats_file) if opts.stats_file else {}
    documents = emit.documents(index, locked, _generated(), inspected)
    staged = site.staging_dir(out)
    shutil.rmtree(staged, ignore_errors=True)
    docs_dir = Path(tempfile.mkdtemp(prefix="hub-docs-"))
    try:
        written_pages = pages.write(index, documents, docs_dir, popularity)
        config = site.mkdocs_build(opts.config_file, docs_dir, staged)
        filled = fill.fill(documents, staged, config.site_url)
        emit.write(documents, staged, popularity)
        site.publish(staged, out)
    finally:
        shutil.rmtree(docs_dir, ignore_errors=True)
        shutil.rmtree(staged, ignore_errors=True)
    return BuildResult(out, len(index.entries), len(written_pages) - len(pages.SHELLS) - 1
                       + filled, requests, written, time.monotonic() - started)


def inspect(opts: Options, store_dir: Path, puller: inspection.Puller | None = None
            ) -> InspectResult:
    """Inspect every locked digest not yet in the inspection file; write it when it grew."""
    index = _valid_index(opts.index_dir)
    locked = lock.read(opts.lock_file)
    problems = emit.check_lock(index, locked)
    if problems:
        raise GeneratorError(problems)
    assert opts.inspection_file is not None
    cache = inspection.read(opts.inspection_file)
    outcome = inspection.inspect_index(index, locked, cache, store_dir, puller=puller)
    if outcome.problems:
        raise GeneratorError(outcome.problems)
    used = {item.digest for versions in locked.values() for item in versions.values()}
    kept = {digest: item for digest, item in outcome.cache.items() if digest in used}
    changed = kept != cache
    if changed or not opts.inspection_file.exists():
        inspection.write(opts.inspection_file, kept)
    dangerous = sorted({f"{name} {version}: {p.id}" for name, versions in locked.items()
                        for version, item in versions.items()
                        if (found := kept.get(item.digest)) and found.inspection
                        for p in found.inspection.dangerous})
    return InspectResult(len(kept), outcome.pulled, changed, tuple(dangerous))


def check_pr(index_dir: Path, base: str, author: str, *,
             lock_file: Path | None = None) -> checkpr.Change:
    """Ownership and immutability of the change from `base` to the working tree."""
    change, problems = checkpr.check(index_dir, base, author,
                                     lock_file or index_dir / lock.LOCK_FILE)
    if problems:
        raise GeneratorError(problems)
    return change


def _valid_index(index_dir: Path) -> Index:
    result = validate_index(index_dir)
    if result.problems:
        raise GeneratorError(result.problems)
    return result.index


def _update_lock(index: Index, opts: Options) -> tuple[int, bool, tuple[str, ...]]:
    """Resolve what the lock lacks; the lock is rewritten only when all succeeded."""
    old = lock.read(opts.lock_file)
    result = resolve(index, old, offline=opts.offline, refresh=opts.refresh,
                     resolver=opts.resolver, fail_on_moved=opts.fail_on_moved)
    if result.problems:
        raise GeneratorError(result.problems)
    moved = tuple(result.moved)
    if result.changed or not opts.lock_file.exists():
        lock.write(opts.lock_file, result.lock)
        return result.requests, True, moved
    return result.requests, False, moved


def _generated() -> str:
    """Now, or SOURCE_DATE_EPOCH for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
