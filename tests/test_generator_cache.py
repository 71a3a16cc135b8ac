"""The build cache: a rebuild renders only what changed, and its output is byte for byte
the output of a build without a cache.

A small synthetic index (bench/hub_synth.py) is built with a cache, changed one
package at a time (summary, a new version, an inspection, a yanked version),
and rebuilt; each rebuild is compared with a cold build of the same index.
The bad cache corpus (DAMAGES) damages a warm cache in every way we could
think of: each build must ignore the damage, render again, and publish the
same bytes as a cold build.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from generator import buildcache, commands, inspection, lock
from generator.problems import GeneratorError

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import hub_synth  # noqa: E402  (bench/ is not a package)

PACKAGES = 24
NEW_DIGEST = "sha256:" + "5e" * 32

Tree = dict[str, bytes]


@pytest.fixture(autouse=True)
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")


def build(index: Path, out: Path, cache: Path | None) -> commands.BuildResult:
    return commands.build(commands.options(index, config_file=REPO / "mkdocs.yml",
                                           offline=True, cache_dir=cache), out)


def tree(folder: Path) -> Tree:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def changed(before: Tree, after: Tree) -> set[str]:
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def package_outputs(paths: set[str]) -> set[str]:
    """The package pages and api/v1 package documents among `paths`."""
    return {p for p in paths if (p.startswith("packages/") and p.count("/") == 2)
            or p.startswith("api/v1/packages/")}


def outputs_of(name: str) -> set[str]:
    return {f"packages/{name}/index.html", f"api/v1/packages/{name}.json"}


def synthetic(folder: Path) -> Path:
    """The synthetic index, its inspection file laid out as `generator inspect` writes it."""
    index = hub_synth.write(folder, PACKAGES)
    path = index / inspection.INSPECTION_FILE
    inspection.write(path, inspection.read(path))
    return index


@pytest.fixture
def index(tmp_path: Path) -> Path:
    return synthetic(tmp_path / "work")


def entry_file(index: Path, number: int) -> Path:
    return sorted((index / "packages").glob("*.yaml"))[number]


def change_summary(index: Path, number: int) -> None:
    path = entry_file(index, number)
    path.write_text(path.read_text().replace('summary: "', 'summary: "Changed: ', 1))


def change_new_version(index: Path, number: int) -> None:
    path = entry_file(index, number)
    name = path.stem
    ref = f"ghcr.io/test/{name}:9.0.0"
    # requirements written unsorted: the cache must keep the order the author wrote
    path.write_text(path.read_text().replace("versions:\n", (
        "versions:\n  - version: 9.0.0\n    ref: " + ref + "\n"
        "    requirements:\n      min_kernel: '5.15'\n      btf: true\n"), 1))
    locked = lock.read(index / lock.LOCK_FILE)
    locked[name]["9.0.0"] = lock.Locked(ref, NEW_DIGEST, "2026-11-30T00:00:00Z")
    lock.write(index / lock.LOCK_FILE, locked)


def change_inspection(index: Path, number: int) -> None:
    name = entry_file(index, number).stem
    newest = max(lock.read(index / lock.LOCK_FILE)[name].values(), key=lambda v: v.resolved)
    found = inspection.read(index / inspection.INSPECTION_FILE)
    item = found[newest.digest]
    assert item.inspection is not None
    found[newest.digest] = dataclasses.replace(
        item, inspection=item.inspection._replace(min_kernel="6.6"))
    inspection.write(index / inspection.INSPECTION_FILE, found)


def change_yank(index: Path, number: int) -> None:
    path = entry_file(index, number)
    text = path.read_text()
    at = text.index("    ref: ", text.index("versions:"))
    end = text.index("\n", at) + 1
    path.write_text(text[:end] + '    yanked: "leaks file descriptors"\n' + text[end:])


CHANGES: dict[str, Callable[[Path, int], None]] = {
    "summary": change_summary, "new version": change_new_version,
    "inspection": change_inspection, "yanked version": change_yank,
}


def test_each_change_renders_only_its_package_and_equals_a_cold_build(
        index: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    out = tmp_path / "site"
    first = build(index, out, cache)
    assert (first.rendered, first.reused, first.validated) == (PACKAGES, 0, PACKAGES)
    again = build(index, out, cache)
    assert (again.rendered, again.reused, again.validated) == (0, PACKAGES, 0)
    before = tree(out)
    assert before == tree(build(index, tmp_path / "cold0", None).out)
    for number, (what, change) in enumerate(CHANGES.items(), 1):
        name = entry_file(index, number).stem
        change(index, number)
        result = build(index, out, cache)
        after = tree(out)
        assert (result.rendered, result.reused) == (1, PACKAGES - 1), what
        cold = tree(build(index, tmp_path / f"cold{number}", None).out)
        assert changed(cold, after) == set(), f"{what}: cached build differs from a cold one"
        assert package_outputs(changed(before, after)) == outputs_of(name), what
        before = after


def test_an_inspection_file_written_by_hand_is_read_whole_and_gives_the_same_site(
        index: Path, tmp_path: Path):
    """Pretty-printed (not one digest per line): no lazy parsing, same bytes."""
    path = index / inspection.INSPECTION_FILE
    path.write_text(json.dumps(json.loads(path.read_text()), indent=2))
    cache = tmp_path / "cache"
    build(index, tmp_path / "site", cache)
    change_inspection(index, 3)  # rewritten one digest per line: the lazy reader takes over
    path.write_text(json.dumps(json.loads(path.read_text()), indent=2))
    result = build(index, tmp_path / "site", cache)
    assert (result.rendered, result.reused) == (1, PACKAGES - 1)
    assert tree(tmp_path / "site") == tree(build(index, tmp_path / "cold", None).out)


def test_a_broken_inspection_line_is_reported_against_the_real_file(
        index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from generator.__main__ import main

    path = index / inspection.INSPECTION_FILE
    build(index, tmp_path / "site", tmp_path / "cache")
    lines = path.read_text().split("\n")
    locked = lock.read(index / lock.LOCK_FILE)
    at = {line[1:72]: i for i, line in enumerate(lines) if line.startswith('"sha256:')}
    package, number = next((n, at[v.digest]) for n in range(PACKAGES)
                           for v in locked[entry_file(index, n).stem].values() if v.digest in at)
    change_summary(index, package)  # its page is rendered again: its lines are parsed
    lines[number] = lines[number].replace('"architecture":', '"arch":')
    path.write_text("\n".join(lines))
    code = main(["build", "--index", str(index), "--offline", "--out", str(tmp_path / "site"),
                 "--config", str(REPO / "mkdocs.yml"), "--cache", str(tmp_path / "cache")])
    output = capsys.readouterr().out
    assert code == 1, output
    assert f"{path}:1:1: " in output and "inspection file is malformed" in output


def test_a_broken_line_of_a_digest_no_package_uses_fails_as_a_cold_build_does(
        index: Path, tmp_path: Path):
    path = index / inspection.INSPECTION_FILE
    build(index, tmp_path / "site", tmp_path / "cache")
    text = path.read_text()
    orphan = '"sha256:' + "0" * 64 + '": {"platforms":[{"os":"linux"}]},\n'
    path.write_text(text.replace("\n", "\n" + orphan, 1))
    for cache in (tmp_path / "cache", None):
        with pytest.raises(GeneratorError) as failed:
            build(index, tmp_path / "site", cache)
        assert "inspection file is malformed" in failed.value.problems[0].message
        assert failed.value.problems[0].file == str(path)


def test_pages_are_linked_from_the_cache_and_the_cache_can_be_deleted(
        index: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    out = tmp_path / "site"
    build(index, out, cache)
    build(index, out, cache)
    name = entry_file(index, 0).stem
    page = out / "packages" / name / "index.html"
    assert page.stat().st_nlink == 2  # the site's file is the cache's object
    published = tree(out)
    shutil.rmtree(cache)
    assert tree(out) == published
    assert build(index, out, cache).rendered == PACKAGES
    assert tree(out) == published


def test_an_entry_whose_readme_changed_is_validated_again(index: Path, tmp_path: Path):
    path = entry_file(index, 0)
    (index / "packages" / "README-x.md").write_text("# First\n")
    text = path.read_text()
    start = text.index("description:")
    path.write_text(text[:start] + "readme: README-x.md\n" + text[text.index("\n", start) + 1:])
    cache = tmp_path / "cache"
    build(index, tmp_path / "site", cache)
    (index / "packages" / "README-x.md").write_text("# Second\n")
    result = build(index, tmp_path / "site", cache)
    assert (result.validated, result.rendered) == (1, 1)
    assert b"Second" in (tmp_path / "site" / "packages" / path.stem / "index.html").read_bytes()


def test_a_cache_inside_the_site_or_not_a_folder_is_refused(
        index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from generator.__main__ import main

    out = tmp_path / "site"
    common = ["build", "--index", str(index), "--offline", "--out", str(out),
              "--config", str(REPO / "mkdocs.yml")]
    assert main([*common, "--cache", str(out / ".cache")]) == 1
    assert "the build cache and the output directory" in capsys.readouterr().out
    (tmp_path / "plain-file").write_text("x")
    assert main([*common, "--cache", str(tmp_path / "plain-file")]) == 1
    assert "cannot use the build cache" in capsys.readouterr().out
    assert not out.exists()


# --- the bad cache corpus ------------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _flip_body_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01
    path.write_bytes(bytes(data))


def _resigned(path: Path, edit: Callable[[dict], None]) -> None:
    """Rewrite a cache file with a valid header around a payload of the wrong shape."""
    head, _, body = path.read_bytes().partition(b"\n")
    data = json.loads(body)
    edit(data)
    buildcache.save_json(path, json.loads(head)["stamp"], data)


def _first_record(data: dict) -> list | dict:
    section = data.get("files") or data["packages"]
    return section[sorted(section)[0]]


def _objects(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / buildcache.OBJECTS_DIR).rglob("*") if p.is_file())


def _bad_ref(data: dict) -> None:
    _first_record(data)["entry"]["versions"][0][1] = "not a ref!"


def _wrong_types(data: dict) -> None:
    _first_record(data)["entry"]["owners"] = "everyone"


def _record_not_a_list(data: dict) -> None:
    data["packages"][sorted(data["packages"])[0]] = {"key": "x"}


def _missing_object(data: dict) -> None:
    _first_record(data)[1] = "0" * 64


def _path_object(data: dict) -> None:
    _first_record(data)[1] = "../../../../etc/passwd"


def _replace_object(cache: Path) -> None:
    objects = _objects(cache)
    objects[0].write_bytes(objects[1].read_bytes())


def _object_to_folder(cache: Path) -> None:
    target = _objects(cache)[0]
    target.unlink()
    target.mkdir()


DAMAGES: dict[str, Callable[[Path], None]] = {
    "validation truncated": lambda c: _truncate(c / buildcache.VALIDATION_FILE),
    "outputs truncated": lambda c: _truncate(c / buildcache.OUTPUTS_FILE),
    "validation byte flipped": lambda c: _flip_body_byte(c / buildcache.VALIDATION_FILE),
    "outputs byte flipped": lambda c: _flip_body_byte(c / buildcache.OUTPUTS_FILE),
    "validation empty": lambda c: (c / buildcache.VALIDATION_FILE).write_bytes(b""),
    "outputs binary garbage": lambda c: (c / buildcache.OUTPUTS_FILE).write_bytes(
        b"\xff\xfe\x00garbage\n\x00"),
    "other generator's stamp": lambda c: (c / buildcache.OUTPUTS_FILE).write_bytes(
        (c / buildcache.OUTPUTS_FILE).read_bytes().replace(b'"stamp": "', b'"stamp": "0', 1)),
    "validation record with a bad ref": lambda c: _resigned(
        c / buildcache.VALIDATION_FILE, _bad_ref),
    "validation record with wrong types": lambda c: _resigned(
        c / buildcache.VALIDATION_FILE, _wrong_types),
    "outputs record of the wrong shape": lambda c: _resigned(
        c / buildcache.OUTPUTS_FILE, _record_not_a_list),
    "outputs record naming a missing object": lambda c: _resigned(
        c / buildcache.OUTPUTS_FILE, _missing_object),
    "outputs record naming a path": lambda c: _resigned(
        c / buildcache.OUTPUTS_FILE, _path_object),
    "object truncated": lambda c: _truncate(_objects(c)[0]),
    "object with another's content": _replace_object,
    "object replaced by a folder": _object_to_folder,
    "objects folder is a file": lambda c: (shutil.rmtree(c / buildcache.OBJECTS_DIR),
                                           (c / buildcache.OBJECTS_DIR).write_text("x")),
}


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Tree]:
    """An index, a warm cache for it, and a cold build's tree (the bytes to expect)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1764000000")
        tmp = tmp_path_factory.mktemp("warm")
        index = synthetic(tmp / "work")
        build(index, tmp / "site", tmp / "cache")
        return index, tmp / "cache", tree(build(index, tmp / "cold", None).out)


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_bad_cache_corpus_is_ignored_and_publishes_what_a_cold_build_does(
        warm: tuple[Path, Path, Tree], tmp_path: Path, damage: str):
    index, warm_cache, expected = warm
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache, copy_function=shutil.copy)
    # the warm site's files are links to the warm cache: damage only this copy
    DAMAGES[damage](cache)
    result = build(index, tmp_path / "site", cache)
    assert tree(tmp_path / "site") == expected
    assert result.rendered + result.reused == PACKAGES
    if "outputs" in damage or "object" in damage or "stamp" in damage:
        assert result.rendered >= 1
    again = build(index, tmp_path / "site", cache)  # the cache mended itself
    assert (again.rendered, again.validated) == (0, 0)
    assert tree(tmp_path / "site") == expected
