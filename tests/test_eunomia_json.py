"""eunomia-bpf JSON packages (`package.json`): run by path, stdin, URL and OCI reference, with
events decoded by the declared export types and options from the declared variables; and the
bad-case corpus: each one line naming the file and the field, nothing loaded or kept."""

from __future__ import annotations

import base64
import json
import os
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest

from ecli_process import error_line, run_ecli, trace_own_open

EVENT = {"name": "event", "size": 80, "type_id": 0, "members": [
    {"name": "pid", "type": "int"}, {"name": "uid", "type": "unsigned int"},
    {"name": "flags", "type": "unsigned long long"}, {"name": "comm", "type": "char[16]"},
    {"name": "fname", "type": "char[48]"}]}
O_CREAT = 0o100


def meta(**changes: Any) -> dict[str, Any]:
    """The meta ecc writes for tests/bpf/eunomia_events.bpf.c."""
    document = {
        "bpf_skel": {
            "obj_name": "eunomia_events",
            "doc": {"brief": "opens, as eunomia-bpf would package them"},
            "maps": [{"ident": "rb", "name": "rb"},
                     {"ident": "rodata", "name": "eunomia_.rodata", "mmaped": True}],
            "progs": [{"attach": "tracepoint/syscalls/sys_enter_openat", "link": True,
                       "name": "handle_openat"}],
            "data_sections": [{"name": ".rodata", "variables": [
                {"name": "targ_pid", "type": "int", "description": "only this process id",
                 "cmdarg": {"default": 0, "long": "targ-pid"}, "offset": 0, "size": 4,
                 "align": 4}]}],
        },
        "export_types": [EVENT],
        "eunomia_version": "1.0.0",
        "enable_multiple_export_types": False,
    }
    document.update(changes)
    return document


def package_json(obj: bytes, **changes: Any) -> bytes:
    from ecli.oci.eunomia import dump

    return dump(obj, meta(**changes))


@pytest.fixture
def package(objects, tmp_path: Path) -> Path:
    path = tmp_path / "package.json"
    path.write_bytes(package_json(objects["eunomia_events"].read_bytes()))
    return path


def assert_decoded(events: list[dict], created: str) -> None:
    mine = [e for e in events if e.get("fname") == created]
    assert len(mine) == 1, events
    assert mine[0]["pid"] == os.getpid() and mine[0]["uid"] == os.getuid()
    assert mine[0]["flags"] & O_CREAT
    assert mine[0]["comm"] == Path("/proc/self/comm").read_text().strip()
    assert set(mine[0]) == {"pid", "uid", "flags", "comm", "fname"}


def test_options_come_from_the_declared_variables(package, env):
    shown = run_ecli("run", str(package), "-h", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "--targ-pid" in shown.stdout and "only this process id" in shown.stdout
    assert "opens, as eunomia-bpf would package them" in shown.stdout


@pytest.mark.root
def test_a_package_runs_by_path_with_events_decoded_by_its_export_types(package, short_dir):
    events, created, _ = trace_own_open([str(package)], short_dir)
    assert_decoded(events, created)


@pytest.mark.root
def test_a_package_runs_from_stdin(package, short_dir):
    with package.open("rb") as stdin:
        events, created, _ = trace_own_open(["-"], short_dir, stdin=stdin)
    assert_decoded(events, created)


@pytest.mark.root
def test_a_package_runs_from_a_url(package, short_dir, env, tmp_path):
    from index_fixtures import serve

    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(package, served / "package.json")
    with serve(served) as (url, _seen):
        events, created, _ = trace_own_open([url + "package.json"], short_dir, env=env)
    assert_decoded(events, created)


@pytest.mark.root
def test_without_export_types_events_are_raw(objects, tmp_path, short_dir):
    path = tmp_path / "package.json"
    path.write_bytes(package_json(objects["eunomia_events"].read_bytes(), export_types=[]))
    events, created, _ = trace_own_open([str(path)], short_dir)
    mine = [e for e in events if created in e.get("strings", "")]
    assert mine and set(mine[0]) == {"size", "hex", "strings"}


def _raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _encoded(obj: bytes) -> str:
    return base64.b64encode(zlib.compress(obj)).decode()


# (name, how to make the package from the object's bytes, the error after "FILE: ")
BAD_PACKAGES = [
    ("broken base64", lambda obj: _raw({"bpf_object": "@@not base64@@",
                                             "bpf_object_size": len(obj), "meta": meta()}),
     "bpf_object is not valid base64 (Only base64 data is allowed)"),
    ("not zlib", lambda obj: _raw({"bpf_object": base64.b64encode(b"junk" * 9).decode(),
                                        "bpf_object_size": 36, "meta": meta()}),
     "bpf_object is neither an ELF object nor zlib data (Error -3 while decompressing data: "
     "incorrect header check)"),
    ("absurd size", lambda obj: _raw({"bpf_object": _encoded(obj),
                                           "bpf_object_size": 1 << 40, "meta": meta()}),
     f"bpf_object_size {1 << 40} is not between 1 and 67108864 (64 MiB)"),
    ("a zlib bomb", lambda obj: _raw({"bpf_object": _encoded(b"\0" * (8 << 20)),
                                           "bpf_object_size": len(obj), "meta": meta()}),
     "bpf_object inflates to more than {size} bytes, the bpf_object_size it declares"),
    ("size disagrees", lambda obj: _raw({"bpf_object": _encoded(obj),
                                              "bpf_object_size": len(obj) + 1, "meta": meta()}),
     "bpf_object holds {size} bytes but bpf_object_size says {size_}"),
    ("truncated zlib", lambda obj: _raw({"bpf_object": base64.b64encode(
        zlib.compress(obj)[:100]).decode(), "bpf_object_size": len(obj), "meta": meta()}),
     "bpf_object: the zlib data is truncated"),
    ("not an ELF object", lambda obj: _raw({"bpf_object": _encoded(b"hello"),
                                                 "bpf_object_size": 5, "meta": meta()}),
     "bpf_object: not an ELF file"),
    ("unknown top field", lambda obj: _raw({"bpf_object": _encoded(obj), "extra": 1,
                                                 "bpf_object_size": len(obj), "meta": meta()}),
     "extra: unknown field (known: bpf_object, bpf_object_size, meta)"),
    ("duplicate field", lambda obj: (b'{"bpf_object_size": 1, "bpf_object_size": 2, '
                                     b'"bpf_object": "", "meta": {}}'),
     "field 'bpf_object_size' appears twice"),
    ("unknown member field", lambda obj: package_json(obj, export_types=[
        {**EVENT, "members": [{"name": "pid", "type": "int", "bits": 3}]}]),
     "meta.export_types[0].members[0].bits: unknown field (known: name, type)"),
    ("missing field", lambda obj: package_json(obj, bpf_skel={"maps": []}),
     "meta.bpf_skel.obj_name: missing"),
    ("wrong type", lambda obj: package_json(obj, export_types={"event": 1}),
     "meta.export_types: expected a list, got dict"),
    ("duplicate member", lambda obj: package_json(obj, export_types=[
        {**EVENT, "members": [EVENT["members"][0], EVENT["members"][0]]}]),
     "meta.export_types[0].members: 'pid' appears twice"),
    ("unknown member type", lambda obj: package_json(obj, export_types=[
        {**EVENT, "members": [*EVENT["members"][:4], {"name": "f", "type": "struct file *x"}]}]),
     "meta.export_types[0].members[4].type: type 'struct file *x' is not one ecli can lay out "
     "(integers, enums, char, bool, pointers and arrays of them)"),
    ("size against members", lambda obj: package_json(obj, export_types=[{**EVENT, "size": 90}]),
     "meta.export_types[0].size: 90 bytes, but its members lay out as 80 bytes"),
]


@pytest.mark.parametrize("make, message", [case[1:] for case in BAD_PACKAGES],
                         ids=[case[0] for case in BAD_PACKAGES])
def test_bad_packages_are_one_line_naming_the_file_and_field(objects, tmp_path, env, make,
                                                            message):
    obj = objects["eunomia_events"].read_bytes()
    path = tmp_path / "package.json"
    path.write_bytes(make(obj))
    ran = run_ecli("run", str(path), "--duration", "1", env=env)
    assert ran.returncode != 0 and "Traceback" not in ran.stderr, ran.stderr
    expected = message.format(size=len(obj), size_=len(obj) + 1)
    assert error_line(ran) == f"ecli: error: {path}: {expected}"
    # refused before its permissions were shown, so before anything was loaded (other
    # engineers' programs come and go on this machine: program ids cannot tell)
    assert "permissions" not in ran.stderr
    downloads = Path(env["ECLI_HOME"])
    assert not [p for p in downloads.rglob("eunomia-*")], "nothing may be kept"


def test_export_types_that_contradict_the_objects_btf_are_refused(objects, tmp_path, env):
    """plain_ringbuf keeps `struct plain_event` in its BTF (ecc's dummy pointer); a package
    that declares it with two members swapped is refused, one that agrees runs."""
    obj = objects["plain_ringbuf"].read_bytes()
    agreeing = {"name": "plain_event", "size": 64, "type_id": 0, "members": [
        {"name": "pid", "type": "u32"}, {"name": "flags", "type": "u64"},
        {"name": "fname", "type": "char[48]"}]}
    swapped = {**agreeing, "members": [agreeing["members"][i] for i in (1, 0, 2)]}
    path = tmp_path / "package.json"
    path.write_bytes(package_json(obj, export_types=[swapped]))
    ran = run_ecli("run", str(path), "--duration", "1", env=env)
    assert ran.returncode != 0 and "Traceback" not in ran.stderr, ran.stderr
    assert error_line(ran) == (f"ecli: error: {path}: meta.export_types[0].members[0]: "
                               "'flags' contradicts the object's BTF ('pid' is member 0 of "
                               "struct plain_event)")
    path.write_bytes(package_json(obj, export_types=[{**agreeing, "size": 72}]))
    assert error_line(run_ecli("run", str(path), env=env)) == (
        f"ecli: error: {path}: meta.export_types[0].size: 72 bytes, but struct plain_event in "
        "the object's BTF is 64")
    path.write_bytes(package_json(obj, export_types=[agreeing]))
    assert run_ecli("run", str(path), "-h", env=env).returncode == 0  # no load with -h


def test_an_absurdly_large_file_is_refused_before_it_is_parsed(tmp_path, env):
    from ecli.oci.eunomia import MAX_PACKAGE_BYTES

    path = tmp_path / "package.json"
    with path.open("wb") as out:
        out.truncate(MAX_PACKAGE_BYTES + 1)
    ran = run_ecli("run", str(path), env=env)
    assert ran.returncode != 0 and "Traceback" not in ran.stderr, ran.stderr
    assert error_line(ran) == (f"ecli: error: {path}: eunomia package is larger than "
                               f"{MAX_PACKAGE_BYTES >> 20} MiB")


def _pushed(registry, tmp_path: Path, obj: bytes, name: str) -> tuple[str, str]:
    """An artifact of kind eunomia-json holding a package.json for `obj`, pushed."""
    from ecli.oci import artifact, reference
    from ecli.oci import registry as oci_registry
    from ecli.oci.config import PackageConfig
    from ecli.oci.store import Store

    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "package.json").write_bytes(package_json(obj))
    store = Store(tmp_path / "layout")
    store.ensure()
    config = PackageConfig(name=name, version="1.0.0", kind="eunomia-json",
                           object="package.json", platforms=("linux/amd64",))
    artifact.create(store, config, [folder / "package.json"], tag="1.0.0")
    ref = f"{registry.host}/ebpfhub/{name}:1.0.0"
    return ref, oci_registry.push(store, reference.parse(ref))


@pytest.mark.registry
def test_a_pushed_package_runs_by_reference(objects, registry, tmp_path, env):
    ref, digest = _pushed(registry, tmp_path, objects["eunomia_events"].read_bytes(), "eunotool")
    shown = run_ecli("run", ref, "-h", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "usage: ecli run eunotool" in shown.stdout and "only this process id" in shown.stdout
    inspected = run_ecli("inspect", ref, "--json", env=env)
    assert inspected.returncode == 0, inspected.stderr
    report = json.loads(inspected.stdout)
    assert report["kind"] == "eunomia-json" and report["digest"] == digest
    installed = run_ecli("install", ref, env=env)
    assert installed.returncode == 0, installed.stderr
    by_name = run_ecli("run", "eunotool", "-h", "--pull", "never", env=env)
    assert by_name.returncode == 0 and "only this process id" in by_name.stdout, by_name.stderr


@pytest.mark.registry
def test_the_hub_inspects_the_embedded_object_and_shows_the_kind(
        registry, tmp_path, capsys: pytest.CaptureFixture[str]):
    from generator.__main__ import main

    from bpf_objects import ROOT, compile_bpf

    obj = compile_bpf(ROOT / "tests" / "bpf" / "hub_inspect.bpf.c", tmp_path / "objects")
    ref, digest = _pushed(registry, tmp_path, obj.read_bytes(), "eunohub")
    index = tmp_path / "index"
    shutil.copytree(ROOT / "index" / "schema", index / "schema")
    (index / "packages").mkdir()
    (index / "packages" / "eunohub.yaml").write_text(
        "name: eunohub\nkind: eunomia-json\nsummary: an eunomia-bpf package that writes user "
        "memory\nowners: [ebpfhub]\nlicense: GPL-2.0-only\nversions:\n  - version: 1.0.0\n"
        f"    ref: '{ref}'\n")
    assert main(["validate", "--index", str(index)]) == 0
    assert main(["resolve", "--index", str(index)]) == 0
    assert main(["inspect", "--index", str(index), "--store", str(tmp_path / "cache")]) == 0
    assert "dangerous: eunohub 1.0.0: write-user-memory" in capsys.readouterr().out
    saved = json.loads((index / "inspection.json").read_text())
    assert list(saved["digests"]) == [digest]
    out = tmp_path / "site"
    assert main(["build", "--index", str(index), "--offline", "--out", str(out),
                 "--config", str(ROOT / "mkdocs.yml")]) == 0
    page = (out / "packages" / "eunohub" / "index.html").read_text()
    assert "eunomia-json" in page
    assert '<span class="hub-badge hub-danger">dangerous: write-user-memory</span>' in page
    document = json.loads((out / "api" / "v1" / "packages" / "eunohub.json").read_text())
    assert document["kind"] == "eunomia-json"
    head = json.loads(next(out.rglob("search/index.json")).read_text())
    kind_mask = (1 << head["kind_bits"]) - 1  # the search page's kind filter
    kind = head["flags"][head["names"].index("eunohub")] & kind_mask
    assert head["kinds"][kind] == "eunomia-json"


@pytest.mark.root
def test_the_template_builds_a_package_whose_events_decode_by_its_export_types(
        tmp_path, env, short_dir):
    """`ecli init -t eunomia` + `ecli build`: package.json made by our tooling, read back by
    the strict reader, its struct absent from the object's BTF and decoded from the meta."""
    from ecli.oci import eunomia
    from ecli.runtime import btf as b
    from ecli.runtime.elf import ElfFile

    from ecli_process import RunningEcli, programs_left

    project = tmp_path / "euno"
    assert run_ecli("init", str(project), "-t", "eunomia", env=env).returncode == 0
    built = run_ecli("build", str(project), env=env)
    assert built.returncode == 0, built.stderr
    package = eunomia.parse((project / "build" / "package.json").read_bytes(), "package.json")
    assert [(t.name, t.size, t.members) for t in package.export_types] == [
        ("event", 276, (("pid", "int"), ("comm", "char[16]"), ("filename", "char[256]")))]
    assert [(v.name, v.long, v.description) for v in package.options] == [
        ("target_pid", "pid", "trace only this process id")]
    assert package.programs == (("handle_openat", "tracepoint/syscalls/sys_enter_openat"),)
    elf = ElfFile(package.object, "object")
    section = elf.section(".BTF")
    assert section is not None
    assert b.Btf.parse(elf.section_data(section), "object").find("event", b.KIND_STRUCT) is None
    run = RunningEcli([str(project / "build" / "package.json"), "--json", "--duration", "3",
                       "--pid", str(os.getpid())], env=env)
    run.wait_attached()
    created = short_dir / "f"
    created.touch()
    out, err, code = run.finish()
    assert code == 0, err
    assert programs_left(run.program_ids) == set()
    mine = [e for e in run.json_events(out) if e.get("filename") == str(created)]
    assert mine == [{"pid": os.getpid(), "comm": Path("/proc/self/comm").read_text().strip(),
                     "filename": str(created)}]


def test_export_types_lay_out_as_c_does(tmp_path):
    """Offsets of the BTF built from declarations, against clang's for the same struct."""
    from ecli.runtime import btf as b
    from ecli.runtime.btf_encode import StructDecl, encode
    from ecli.runtime.event_header import compile_header

    members = (("kind", "enum event_type"), ("wide", "unsigned __int128"), ("flag", "bool"),
               ("ids", "__u16[3]"), ("where", "const char *"), ("last", "u8"))
    header = tmp_path / "mixed.h"
    header.write_text("enum event_type { A, B };\nstruct mixed { enum event_type kind; "
                      "unsigned __int128 wide; _Bool flag; __u16 ids[3]; const char *where; "
                      "u8 last; };\n")

    def layout(btf: b.Btf) -> tuple[int, list[tuple[str, int, int]]]:
        found = btf.find("mixed", b.KIND_STRUCT)
        assert found is not None
        return found.size, [(m.name, m.bit_offset // 8, btf.size_of(m.type_id))
                            for m in found.members]

    clang = layout(compile_header(header).btf)
    assert clang == (64, [("kind", 0, 4), ("wide", 16, 16), ("flag", 32, 1), ("ids", 34, 6),
                          ("where", 40, 8), ("last", 48, 1)])
    raw = encode([StructDecl("mixed", 64, members, "meta.export_types[0]")], "pkg")
    assert layout(b.Btf.parse(raw, "pkg")) == clang


def test_a_bad_package_from_a_url_or_stdin_is_one_line_and_nothing_is_kept(objects, tmp_path,
                                                                         env):
    import subprocess

    from ecli_process import ecli_command
    from index_fixtures import serve

    served = tmp_path / "served"
    served.mkdir()
    obj = objects["eunomia_events"].read_bytes()
    (served / "package.json").write_bytes(package_json(obj, export_types=[{**EVENT, "size": 90}]))
    with serve(served) as (url, _seen):
        ran = run_ecli("run", url + "package.json", env=env)
    assert ran.returncode != 0 and "Traceback" not in ran.stderr, ran.stderr
    assert error_line(ran) == (f"ecli: error: {url}package.json: meta.export_types[0].size: "
                               "90 bytes, but its members lay out as 80 bytes")
    piped = subprocess.run(ecli_command("run", "-"), input=b'{"bpf_object": 1}', env=env,
                           capture_output=True, check=False)
    assert piped.returncode != 0 and b"Traceback" not in piped.stderr
    assert piped.stderr.decode().splitlines()[-1] == (
        "ecli: error: stdin: bpf_object: expected a string, got int")
    home = Path(env["ECLI_HOME"])
    assert not [p for p in home.rglob("*") if p.is_file() and ("url-" in p.name
                                                               or "eunomia-" in p.name)]
