"""`ecli build` is reproducible: the same sources and toolchain give the same digest
whatever the folder, the files' times or SOURCE_DATE_EPOCH (kind bpf writes no time);
for a bundle SOURCE_DATE_EPOCH dates the archive's entries and changes nothing else.
Real clang, bpftool and make; the verifier still quotes the source lines."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ecli.develop.build import build
from ecli.oci import artifact
from ecli.oci.store import Store
from ecli.runtime.elf import ElfFile

from bpf_objects import ROOT
from ecli_process import error_line, run_ecli

EPOCH = "1700000000"
DAY = 86400
BUNDLE_TOML = ('[package]\nname = "tool"\nversion = "1.0.0"\nkind = "bundle"\n'
               'entrypoint = ["bin/tool"]\n[build]\nlanguage = "c"\n')
BUNDLE_MAKEFILE = ("all:\n\tmkdir -p build\n\tprintf '#!/bin/sh\\necho hi\\n' > build/tool\n"
                   "\tchmod 755 build/tool\n")


def copy_example(name: str, target: Path, age: int = 0) -> Path:
    """examples/NAME copied to `target`, its files dated `age` seconds in the past."""
    shutil.copytree(ROOT / "examples" / name, target, ignore=shutil.ignore_patterns("build"))
    for path in target.iterdir():
        stamp = path.stat().st_mtime - age
        os.utime(path, (stamp, stamp))
    return target


def blobs(project: Path) -> dict[str, bytes]:
    folder = project / "build" / "oci" / "blobs" / "sha256"
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def btf_strings(object_path: Path) -> list[bytes]:
    """The .BTF string table: type names, file names and the source lines of line info."""
    elf = ElfFile(object_path.read_bytes(), str(object_path))
    section = elf.section(".BTF")
    assert section is not None
    raw = elf.section_data(section)
    header_len = int.from_bytes(raw[4:8], "little")
    str_off, str_len = (int.from_bytes(raw[at:at + 4], "little") for at in (16, 20))
    start = header_len + str_off
    return raw[start:start + str_len].split(b"\0")


def test_opensnoop_gives_the_same_digest_in_two_folders_at_two_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both platforms of the example (one image index), built in folders of different
    names and depths, from files of different times, once with SOURCE_DATE_EPOCH."""
    first = copy_example("opensnoop", tmp_path / "a" / "opensnoop")
    second = copy_example("opensnoop", tmp_path / "elsewhere" / "deeper" / "snoop", age=DAY)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    one = build(first)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    two = build(second)
    assert one.platforms == ("linux/amd64", "linux/arm64")
    assert one.digest == two.digest
    assert blobs(first) == blobs(second)  # every blob: objects, config, manifests, index
    for blob in blobs(first).values():
        assert str(tmp_path).encode() not in blob
    # The BTF still carries the source lines the verifier quotes, with relative file names.
    strings = btf_strings(one.object_path)
    assert b"\te = ecli_ringbuf_reserve(events, sizeof(*e));" in strings
    assert b"././opensnoop.bpf.c" in strings


def test_a_line_of_ecli_h_stays_in_the_btf(make_bpf_project: Callable[..., Path]) -> None:
    """ecli's headers are read from DIR/build/include: clang finds the file by its
    relative name and keeps its lines (an inlined ecli_log2 here)."""
    source = ('#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n#include "ecli.h"\n'
              'char LICENSE[] SEC("license") = "GPL";\nu32 last;\n'
              'SEC("tracepoint/syscalls/sys_enter_openat")\n'
              "int handle(void *ctx)\n{\n\tlast = ecli_log2(bpf_ktime_get_ns());\n"
              "\treturn 0;\n}\n")
    project = make_bpf_project("log2tp", source=source)
    strings = btf_strings(build(project).object_path)
    assert b"\twhile (v > 1 && slot < 63) {" in strings
    assert b"././build/include/ecli.h" in strings
    shipped = ROOT / "ecli" / "include" / "ecli.h"
    assert (project / "build" / "include" / "ecli.h").read_bytes() == shipped.read_bytes()


def test_an_event_header_project_gives_the_same_digest_in_two_folders(
        make_bpf_project: Callable[..., Path]) -> None:
    """The header's BTF (compiled in a temporary folder) names no folder either."""
    source = (ROOT / "tests" / "bpf" / "header_events.bpf.c").read_text()
    digests = set()
    for name in ("hdrone", "hdrtwo"):
        project = make_bpf_project(name, source=source,
                                   extra_toml='\n[output]\nevent_header = "header_events.h"\n')
        shutil.copy(ROOT / "tests" / "bpf" / "header_events.h", project)
        (project / f"{name}.bpf.c").rename(project / "prog.bpf.c")
        toml = project / "ecli.toml"
        toml.write_text(toml.read_text().replace(f'name = "{name}"', 'name = "hdr"')
                        .replace(f'source = "{name}.bpf.c"', 'source = "prog.bpf.c"'))
        digests.add(build(project).digest)
    assert len(digests) == 1


@pytest.mark.root
def test_the_verifier_still_quotes_the_source_line(tmp_path: Path, env: dict[str, str]) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    shutil.copy(ROOT / "tests" / "bpf" / "broken_verifier.bpf.c", project)
    (project / "ecli.toml").write_text(
        '[package]\nname = "broken"\nversion = "0.1.0"\nkind = "bpf"\n'
        'source = "broken_verifier.bpf.c"\nlicense = "GPL-2.0-only"\n')
    object_path = build(project).object_path
    ran = run_ecli("run", str(object_path), "--duration", "1", env=env)
    assert ran.returncode == 1
    assert "R0 invalid mem access 'map_value_or_null'" in ran.stderr
    assert "; *value += 1;" in ran.stderr  # the line from the BTF's line info


def bundle_project(folder: Path, age: int = 0) -> Path:
    folder.mkdir(parents=True)
    (folder / "ecli.toml").write_text(BUNDLE_TOML)
    (folder / "Makefile").write_text(BUNDLE_MAKEFILE)
    for path in folder.iterdir():
        stamp = path.stat().st_mtime - age
        os.utime(path, (stamp, stamp))
    return folder


def test_source_date_epoch_dates_a_bundle_and_changes_nothing_else(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    plain = build(bundle_project(tmp_path / "a" / "tool"))
    again = build(bundle_project(tmp_path / "other" / "place", age=DAY))
    assert plain.digest == again.digest
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    dated_dir = bundle_project(tmp_path / "dated")
    dated = build(dated_dir)
    assert dated.digest != plain.digest
    old = artifact.load(Store(plain.layout_dir), plain.digest)
    new = artifact.load(Store(dated.layout_dir), dated.digest)
    assert new.manifest.config == old.manifest.config  # the same config blob
    assert new.manifest.annotations == old.manifest.annotations
    layer = dated.object_path.read_bytes()
    assert int.from_bytes(layer[4:8], "little") == int(EPOCH)  # gzip header MTIME
    with tarfile.open(dated.object_path) as tar:
        assert {member.mtime for member in tar.getmembers()} == {int(EPOCH)}
    with tarfile.open(plain.object_path) as tar:  # gzip decompresses to the same names
        assert [m.name for m in tar.getmembers()] == ["bin", "bin/tool"]
    assert gzip.decompress(layer) != gzip.decompress(plain.object_path.read_bytes())


@pytest.mark.parametrize("value", ["yesterday", "-1", "1.5", "4294967296", "١٢"])
def test_a_bad_source_date_epoch_is_one_line_and_builds_nothing(
        tmp_path: Path, env: dict[str, str], value: str) -> None:
    project = bundle_project(tmp_path / "tool")
    ran = run_ecli("build", str(project), env={**env, "SOURCE_DATE_EPOCH": value})
    assert ran.returncode == 1
    assert error_line(ran).startswith(f"ecli: error: SOURCE_DATE_EPOCH={value!r} is not a "
                                      "time in whole seconds since 1970")
    assert "Traceback" not in ran.stderr
    assert not (project / "build" / "tool").exists()  # make never ran
    assert not (project / "build" / "oci").exists()


@pytest.mark.parametrize("template", ["c-libbpf", "python"])
def test_a_template_bundle_gives_the_same_digest_in_two_folders(
        tmp_path: Path, env: dict[str, str], template: str) -> None:
    """The templates' Makefiles map the folder to `.`: the skeleton's object, the static
    C binary and the python bundle's object name no folder."""
    digests = set()
    for folder in (tmp_path / "a" / "tool", tmp_path / "elsewhere" / "deeper" / "tool"):
        assert run_ecli("init", str(folder), "-t", template, env=env).returncode == 0
        built = run_ecli("build", str(folder), "--json", env=env)
        assert built.returncode == 0, built.stderr
        digests.add(json.loads(built.stdout)["digest"])
        for blob in blobs(folder).values():
            assert str(folder).encode() not in blob
    assert len(digests) == 1
