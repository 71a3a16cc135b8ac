"""The commands (validate, resolve, inspect, build, check-pr, scope) as functions.

Each returns data or raises `GeneratorError` with its problems. `__main__`
parses flags into `Options`, calls one of these and renders the result;
nothing here prints. The registry resolver can be swapped for tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from ecli.errors import EcliError
from ecli.hubindex import model
from ecli.oci.registry import INSECURE_ENV
from generator import (
    buildcache,
    checkpr,
    emit,
    fill,
    guestkernels,
    inspection,
    inspectlines,
    kernelmatrix,
    kernelresults,
    lock,
    pages,
    rootsign,
    scope,
    signing,
    site,
    stats,
)
from generator.entry import Index
from generator.problems import GeneratorError, Problem
from generator.resolve import Resolver, resolve
from generator.validate import SCHEMA_DIR, validate_index


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
    cache_dir: Path | None = None  # the build cache; None builds without one
    site_url: str | None = None  # None: mkdocs.yml's site_url, else HUB_SITE_URL, else none
    signature_checker: signing.Checker | None = None  # None: the registry's signatures
    hub_key: Path | None = None  # signs the root; None: HUB_SIGNING_KEY, else unsigned


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
    rendered: int = 0  # package pages rendered in this build
    reused: int = 0  # package pages taken from the build cache
    validated: int = 0  # entry files checked (the others came from the build cache)
    hub_key: str | None = None  # fingerprint of the key that signed the root; None: unsigned


def options(index_dir: Path, *, lock_file: Path | None = None, config_file: Path | None = None,
            offline: bool = False, refresh: bool = False, resolver: Resolver | None = None,
            inspection_file: Path | None = None, stats_file: Path | None = None,
            fail_on_moved: bool = False, cache_dir: Path | None = None,
            site_url: str | None = None, hub_key: Path | None = None) -> Options:
    """Defaults follow the repository layout: lock and inspections in the index,
    mkdocs.yml beside it. The build cache is used only when `cache_dir` is given
    (`buildcache.default_dir(index_dir)` is where the command line keeps it)."""
    return Options(index_dir, lock_file or index_dir / lock.LOCK_FILE,
                   config_file or index_dir.resolve().parent / "mkdocs.yml", offline, refresh,
                   resolver, inspection_file or index_dir / inspection.INSPECTION_FILE,
                   stats_file, fail_on_moved, cache_dir, site_url, hub_key=hub_key)


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
    """Validate, resolve what the lock lacks, and build the site into `out` atomically.

    With a build cache, unchanged entry files are not validated again and
    unchanged packages' pages are linked from the cache; the output is the
    same bytes as a build without it.
    """
    if opts.cache_dir is None:
        return _build(opts, out, None)
    cache, site_dir = opts.cache_dir.resolve(), out.resolve()
    if cache.is_relative_to(site_dir) or site_dir.is_relative_to(cache):
        raise GeneratorError([Problem(str(opts.cache_dir), 1, 1, "", "the build cache and "
                                      f"the output directory {out} overlap", code="cache",
                                      hint="keep the cache outside the site, e.g. the "
                                      "default .cache/generator beside the index")])
    with buildcache.locked(opts.cache_dir) as folder:
        return _build(opts, out, folder)


def _build(opts: Options, out: Path, cache_dir: Path | None) -> BuildResult:
    started = time.monotonic()
    site_url = site.check_site_url(opts.site_url) if opts.site_url is not None else None
    hub_key = rootsign.load_key(opts.hub_key)  # before the work: a bad key fails at once
    generated = _generated()  # and a bad SOURCE_DATE_EPOCH
    validations = outputs = None
    if cache_dir is not None:
        index_root = str(opts.index_dir.resolve())
        validations = buildcache.Validations(cache_dir, buildcache.stamp(
            index_root, buildcache.folder_stamp(opts.index_dir / SCHEMA_DIR)))
        outputs = buildcache.Outputs(cache_dir, buildcache.stamp(
            os.environ.get(INSECURE_ENV, "")))
    checked = validate_index(opts.index_dir, cache=validations)
    if checked.problems:
        raise GeneratorError(checked.problems)
    if validations is not None:
        validations.save()
    index = checked.index
    requests, written, _ = (0, False, ()) if opts.offline else _update_lock(index, opts)
    locked = lock.read(opts.lock_file)
    problems = emit.check_lock(index, locked)
    if problems:
        raise GeneratorError(problems)
    site.check_target(out)
    popularity = stats.read(opts.stats_file) if opts.stats_file else {}
    kernels = kernelresults.read(opts.index_dir / kernelresults.RESULTS_FILE)
    documents, cached = _documents(index, locked, generated, opts.inspection_file,
                                   outputs, kernels)
    staged = site.staging_dir(out)
    shutil.rmtree(staged, ignore_errors=True)
    docs_dir = Path(tempfile.mkdtemp(prefix="hub-docs-"))
    try:
        written_pages = pages.write(index, documents, docs_dir, popularity)
        config = site.mkdocs_build(opts.config_file, docs_dir, staged, site_url)
        filled = fill.fill(documents, staged, config.site_url, cached)
        emit.write(filled.documents, staged, popularity, hub_key)
        site.publish(staged, out)
    finally:
        shutil.rmtree(docs_dir, ignore_errors=True)
        shutil.rmtree(staged, ignore_errors=True)
    if outputs is not None:
        outputs.save()
    hits = validations.hits if validations is not None else 0
    return BuildResult(out, len(index.entries), len(written_pages) - len(pages.SHELLS) - 1
                       + filled.pages, requests, written, time.monotonic() - started,
                       filled.rendered, filled.reused, checked.files - hits,
                       hub_key.public().fingerprint() if hub_key else None)


def _documents(index: Index, locked: lock.Lock, generated: str, inspection_file: Path | None,
               outputs: buildcache.Outputs | None, kernels: kernelresults.Results
               ) -> tuple[emit.Documents, fill.Cached | None]:
    """The api/v1 documents, and with the build cache what `fill` needs to reuse pages.

    With the cache and an inspection file laid out one digest per line, the
    documents start without inspections: each package's key takes its raw
    inspection lines, and only the packages rendered again get theirs parsed.
    """
    lines = inspectlines.Inspections(inspection_file) if outputs is not None else None
    if outputs is None or lines is None or lines.whole is not None:
        inspected = (lines.whole if lines is not None else
                     inspection.read(inspection_file) if inspection_file else {})
        documents = emit.documents(index, locked, generated, inspected, kernels)
        if outputs is None:
            return documents, None
        return documents, fill.Cached(outputs, lambda name: repr(
            documents.packages[name]).encode())
    light = emit.documents(index, locked, generated, kernels=kernels)
    parts = lines
    used = {v.digest for document in light.packages.values() for v in document.versions}
    parts.parse(set(parts.lines) - used)  # lines no page shows are checked all the same

    def material(name: str) -> bytes:
        document = light.packages[name]
        return b"\0".join((repr(document).encode(),
                            *(parts.key(v.digest) for v in document.versions)))

    def complete(names: list[str]) -> dict[str, model.PackageDocument]:
        wanted = {v.digest for name in names for v in light.packages[name].versions}
        found = parts.parse(wanted)
        return {name: emit.package(index.entries[name], locked, found, kernels)
                for name in names}

    return light, fill.Cached(outputs, material, complete)


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


def check_scope(index_dir: Path, base: str, head: str) -> scope.Scope:
    """An index change or a code change; mixed ones and edits of the lock are refused."""
    found, problems = scope.check(index_dir, base, head)
    if problems:
        raise GeneratorError(problems)
    return found


def _only_entries(index: Index, names: list[str] | None, index_dir: Path) -> Index:
    """`index` cut down to the entries `names` (`--package`); all of it without names."""
    if not names:
        return index
    unknown = sorted(set(names) - set(index.entries))
    if unknown:
        raise GeneratorError([Problem(str(index_dir / "packages"), 1, 1, "package",
                                      f"no index entry named {', '.join(unknown)}",
                                      code="kernels")])
    return replace(index, entries={name: index.entries[name] for name in sorted(set(names))})


def _valid_index(index_dir: Path) -> Index:
    result = validate_index(index_dir)
    if result.problems:
        raise GeneratorError(result.problems)
    return result.index


def _update_lock(index: Index, opts: Options) -> tuple[int, bool, tuple[str, ...]]:
    """Resolve what the lock lacks and check the signatures of signed entries' new
    versions; the lock is rewritten only when all succeeded."""
    old = lock.read(opts.lock_file)
    result = resolve(index, old, offline=opts.offline, refresh=opts.refresh,
                     resolver=opts.resolver, fail_on_moved=opts.fail_on_moved)
    if result.problems:
        raise GeneratorError(result.problems)
    signed, problems, checked = signing.check(index, result.lock, offline=opts.offline,
                                              refresh=opts.refresh,
                                              checker=opts.signature_checker)
    if problems:
        raise GeneratorError(problems)
    moved = tuple(result.moved)
    if signed != old or not opts.lock_file.exists():
        lock.write(opts.lock_file, signed)
        return result.requests + checked, True, moved
    return result.requests + checked, False, moved


def _generated() -> str:
    """Now, or SOURCE_DATE_EPOCH for reproducible builds (a bad value is a problem)."""
    from ecli.develop.bundle_archive import source_date_epoch

    try:
        epoch = source_date_epoch()
    except EcliError as exc:
        raise GeneratorError([Problem("SOURCE_DATE_EPOCH", 1, 1, "", exc.message,
                                      hint=exc.hint, code="environment")]) from None
    moment = datetime.fromtimestamp(epoch, UTC) if epoch is not None else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class KernelsResult:
    runs: list[kernelmatrix.KernelRun]
    results_file: Path


def kernels(index_dir: Path, work: Path, *, lock_file: Path | None = None,
            results_file: Path | None = None, only: list[str] | None = None,
            packages: list[str] | None = None,
            matrix: Path = guestkernels.MATRIX_FILE, log: object = None,
            jobs: int | None = None) -> KernelsResult:
    """Every version's test on the kernel matrix (or the kernels named in `only`, of
    the entries named in `packages`), merged into INDEX/kernels.json, where the other
    packages' results stay; nothing is written when a kernel cannot be set up."""
    try:
        if jobs is not None and jobs < 1:
            raise guestkernels.KernelSetupError(f"--jobs {jobs}: at least one guest at a time")
        specs = guestkernels.read_matrix(matrix)
        if only:
            unknown = sorted(set(only) - {spec.name for spec in specs})
            if unknown:
                raise guestkernels.KernelSetupError(
                    f"no kernel named {', '.join(unknown)}",
                    hint=f"{matrix} names: {', '.join(s.name for s in specs)}")
            specs = [spec for spec in specs if spec.name in only]
        for spec in specs:  # a kernel apt cannot give stops the run before anything is pulled
            if spec.arch != "host":
                guestkernels.resolve_package(spec.package, spec.arch)
        index = _only_entries(_valid_index(index_dir), packages, index_dir)
        locked = lock.read(lock_file or index_dir / lock.LOCK_FILE)
        found = kernelmatrix.targets(index, locked, work / "home")
        runs = kernelmatrix.run_matrix(specs, found, work.resolve(),
                                       Path(__file__).resolve().parent.parent, log, jobs)
    except guestkernels.KernelSetupError as exc:
        raise GeneratorError([Problem(str(matrix), 1, 1, "kernel", exc.message,
                                      hint=exc.hint, code="kernels")]) from None
    out = results_file or index_dir / kernelresults.RESULTS_FILE
    kernelmatrix.update_file(out, runs)
    return KernelsResult(runs, out)
