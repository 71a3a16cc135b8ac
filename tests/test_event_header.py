"""Event types from a header: `ecli run --event-header FILE.h` and `ecli build` with
`[output] event_header`, on an object built with plain clang whose event struct is not
in its BTF (libbpf-tools style: a local `struct event *e = bpf_ringbuf_reserve(...)`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bpf_objects import ROOT
from ecli_process import error_line, run_ecli, trace_own_open

HEADER = ROOT / "tests" / "bpf" / "header_events.h"
AT_FDCWD_U16 = (-100) & 0xFFFF


def assert_decoded(events: list[dict], created: str) -> None:
    mine = [e for e in events if e.get("fname") == created]
    assert len(mine) == 1, events
    pid = os.getpid()
    assert mine[0] == {"who.pid": pid, "who.uid": os.getuid(), "tag": (pid << 64) | 42,
                       "kind": "OPEN_CREATE", "dfd_low": AT_FDCWD_U16,
                       "comm": Path("/proc/self/comm").read_text().strip(),
                       "fname": created}


@pytest.mark.root
def test_without_the_header_events_are_hex_with_it_they_decode(objects, short_dir):
    obj = str(objects["header_events"])
    raw, created, _ = trace_own_open([obj], short_dir)
    mine = [e for e in raw if created in e.get("strings", "")]
    assert mine and set(mine[0]) == {"size", "hex", "strings"}  # the struct is not in BTF
    events, created, _ = trace_own_open([obj, "--event-header", str(HEADER)], short_dir)
    assert_decoded(events, created)
    named, created, _ = trace_own_open([obj, "--event-header", str(HEADER), "--event-type",
                                        "event"], short_dir)
    assert_decoded(named, created)


def refused(*args: str, env: dict[str, str] | None = None) -> str:
    ran = run_ecli("run", *args, env=env)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
    assert "permissions" not in ran.stderr  # refused before anything was shown or loaded
    return error_line(ran)


def test_a_missing_clang_is_one_line_naming_the_package(objects, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    line = refused(str(objects["header_events"]), "--event-header", str(HEADER),
                   env={**os.environ, "PATH": str(empty)})
    assert line == (f"ecli: error: {HEADER}: compiling an event header needs clang, "
                    "which is not installed")
    ran = run_ecli("run", str(objects["header_events"]), "--event-header", str(HEADER),
                   env={**os.environ, "PATH": str(empty)})
    assert "hint: apt-get install clang" in ran.stderr


def test_bad_headers(objects, tmp_path):
    obj = str(objects["header_events"])
    broken = tmp_path / "broken.h"
    broken.write_text("struct event {\n\tunknown_t x;\n};\n")
    assert refused(obj, "--event-header", str(broken)) == (
        f"ecli: error: {broken}: clang cannot compile it: {broken}:2:2: error: unknown type "
        "name 'unknown_t'")
    twins = tmp_path / "twins.h"  # two structs of the event's 112 bytes
    twins.write_text("struct a { char x[112]; };\ntypedef struct { __u64 y[14]; } b_t;\n"
                     "struct small { int z; };\n")
    assert refused(obj, "--event-header", str(twins)) == (
        f"ecli: error: {twins}: 2 type(s) fit the events (112); it defines: a (112 bytes), "
        "b_t (112 bytes), small (4 bytes)")
    assert refused(obj, "--event-header", str(twins), "--event-type", "nope") == (
        f"ecli: error: {twins}: no struct, union or typedef 'nope' (it defines: a, b_t, small)")
    empty = tmp_path / "empty.h"
    empty.write_text("#define NOTHING 1\n")
    assert refused(obj, "--event-header", str(empty)) == \
        f"ecli: error: {empty}: defines no named struct or union"
    missing = tmp_path / "missing.h"
    assert refused(obj, "--event-header", str(missing)) == \
        f"ecli: error: {missing}: cannot read the event header: No such file or directory"
    assert refused(str(objects["runqlat"]), "--event-header", str(HEADER)) == (
        "ecli: error: runqlat: --event-header: the object sends no events (it has no ring "
        "buffer or perf event array)")


# -- ecli build: the header's BTF travels in the package ------------------------------


def header_project(make_bpf_project, extra: str = "") -> Path:
    """A project of the libbpf-tools style object whose ecli.toml names its header."""
    source = (ROOT / "tests" / "bpf" / "header_events.bpf.c").read_text()
    project = make_bpf_project("hdrevents", source=source,
                               extra_toml=f'\n[output]\nevent_header = "header_events.h"\n{extra}')
    (project / "header_events.h").write_bytes(HEADER.read_bytes())
    return project


def test_build_packs_the_header_btf_and_names_the_type(make_bpf_project):
    from ecli.develop.build import build
    from ecli.oci import artifact, mediatypes
    from ecli.oci.store import Store

    project = header_project(make_bpf_project)
    result = build(project)
    package = artifact.load(Store(project / "build" / "oci"), result.digest)
    assert (package.config.output.event_type, package.config.output.event_btf) == (
        "event", "hdrevents.events.btf")
    layers = {layer.title: layer.media_type for layer in package.manifest.layers}
    assert layers == {"hdrevents.bpf.o": mediatypes.BPF_OBJECT,
                      "hdrevents.events.btf": mediatypes.EVENT_BTF}
    assert package.files["hdrevents.events.btf"].read_bytes()[:2] == b"\x9f\xeb"  # BTF magic
    assert build(project).digest == result.digest  # reproducible, BTF included


@pytest.mark.root
def test_a_pushed_package_decodes_events_without_the_header(make_bpf_project, registry, env,
                                                            short_dir):
    project = header_project(make_bpf_project)
    ref = f"{registry.host}/hdr/hdrevents:0.1.0"
    built = run_ecli("build", str(project), env=env)
    assert built.returncode == 0, built.stderr
    pushed = run_ecli("push", ref, "--dir", str(project), env=env)
    assert pushed.returncode == 0, pushed.stderr
    (project / "header_events.h").unlink()  # the user has only the package
    events, created, _ = trace_own_open([ref], short_dir, env)
    assert_decoded(events, created)


@pytest.mark.parametrize(("extra", "message"), [
    ('event_type = "nope"\n', "header_events.h: no struct, union or typedef 'nope' "
                              "(it defines: ids, event)"),
    ('event_type = "ids"\n', None),
])
def test_build_event_type_choice(make_bpf_project, extra, message):
    from ecli.develop.build import build
    from ecli.errors import BuildError

    project = header_project(make_bpf_project, extra)
    if message is None:
        assert build(project).digest
        return
    with pytest.raises(BuildError) as failed:
        build(project)
    assert failed.value.message.endswith(message)


@pytest.mark.parametrize(("output", "message"), [
    ('event_header = "missing.h"\n', "output.event_header must name a header file of a kind "
                                     "'bpf' or 'eunomia-json' project ('missing.h')"),
    ('event_type = "event"\n', "output.event_type needs output.event_header"),
    ('event_btf = "x.btf"\n', "output.event_btf is written by ecli build"),
])
def test_bad_event_header_fields(make_bpf_project, output, message):
    from ecli.develop.build import load_project
    from ecli.errors import BuildError

    project = make_bpf_project("hdrbad", extra_toml=f"\n[output]\n{output}")
    with pytest.raises(BuildError) as failed:
        load_project(project)
    assert failed.value.message == f"{project / 'ecli.toml'}: {message}"


def carrying(folder: Path, obj: Path, btf: bytes | None, event_btf: str = "pkg.events.btf"
             ) -> Path:
    """An OCI layout of a kind bpf package whose config names event BTF (`btf`: the layer's
    bytes, None: no such layer)."""
    import shutil

    from ecli.oci import artifact
    from ecli.oci.config import OutputHints, PackageConfig
    from ecli.oci.store import Store

    folder.mkdir()
    files = [Path(shutil.copy(obj, folder / "pkg.bpf.o"))]
    if btf is not None:
        (folder / event_btf).write_bytes(btf)
        files.append(folder / event_btf)
    config = PackageConfig(name="pkg", version="1.0.0", kind="bpf", object="pkg.bpf.o",
                           output=OutputHints(event_type="event", event_btf=event_btf))
    artifact.create(Store(folder / "oci"), config, files, tag="1.0.0")
    return folder / "oci"


def test_a_package_whose_event_btf_is_missing_or_bad_is_refused(objects, tmp_path):
    obj = objects["header_events"]
    missing = carrying(tmp_path / "missing", obj, None)
    ran = run_ecli("run", str(missing))
    assert ran.returncode == 1 and error_line(ran) == (
        "ecli: error: pkg: output.event_btf names 'pkg.events.btf', which is not a file of "
        "the package")
    garbage = carrying(tmp_path / "garbage", obj, b"not btf at all, not even close")
    ran = run_ecli("run", str(garbage))
    assert ran.returncode == 1 and error_line(ran) == (
        "ecli: error: pkg: pkg.events.btf: not BTF (bad magic or version)")


@pytest.mark.parametrize(("output", "message"), [
    ({"event_type": "event"}, "output.event_type and output.event_btf go together"),
    ({"event_btf": "x.btf"}, "output.event_type and output.event_btf go together"),
    ({"event_btf": 3, "event_type": "e"}, "field 'event_btf' must be str, got int"),
])
def test_bad_event_fields_in_a_package_config(output, message):
    from ecli.errors import ArtifactError
    from ecli.oci.config import PackageConfig

    with pytest.raises(ArtifactError) as failed:
        PackageConfig.from_dict({"name": "pkg", "version": "1", "kind": "bpf",
                                 "object": "pkg.bpf.o", "output": output}, "config")
    assert failed.value.message.endswith(message)


# Headers as libbpf-tools writes them: they rely on vmlinux.h's typedefs (pid_t, __u16),
# macros size their arrays, and tcpstates' addresses are unsigned __int128.
EXECSNOOP_H = """\
#ifndef __EXECSNOOP_H
#define __EXECSNOOP_H
#define ARGSIZE  128
#define TASK_COMM_LEN 16
#define TOTAL_MAX_ARGS 60
#define DEFAULT_MAXARGS 20
#define FULL_MAX_ARGS_ARR (TOTAL_MAX_ARGS * ARGSIZE)
#define INVALID_UID ((uid_t)-1)
#define LAST_ARG (FULL_MAX_ARGS_ARR - ARGSIZE)
struct event {
	pid_t pid;
	pid_t ppid;
	uid_t uid;
	int retval;
	int args_count;
	unsigned int args_size;
	char comm[TASK_COMM_LEN];
	char args[FULL_MAX_ARGS_ARR];
};
#endif /* __EXECSNOOP_H */
"""
TCPSTATES_H = """\
#ifndef __TCPSTATES_H
#define __TCPSTATES_H
#define TASK_COMM_LEN	16
struct event {
	unsigned __int128 saddr;
	unsigned __int128 daddr;
	__u64 skaddr;
	__u64 ts_us;
	__u64 delta_us;
	__u32 pid;
	int oldstate;
	int newstate;
	__u16 family;
	__u16 sport;
	__u16 dport;
	char task[TASK_COMM_LEN];
};
#endif /* __TCPSTATES_H */
"""


@pytest.mark.parametrize(("text", "size", "columns"), [
    (EXECSNOOP_H, 7720, ["pid", "ppid", "uid", "retval", "args_count", "args_size", "comm",
                         "args"]),
    (TCPSTATES_H, 96, ["saddr", "daddr", "skaddr", "ts_us", "delta_us", "pid", "oldstate",
                       "newstate", "family", "sport", "dport", "task"]),
])
def test_libbpf_tools_headers_compile_and_decode(tmp_path, text, size, columns):
    from ecli.runtime.decode import StructDecoder
    from ecli.runtime.event_header import compile_header

    header = tmp_path / "tool.h"
    header.write_text(text)
    types = compile_header(header)
    assert types.declared == ("event",)
    decoder = StructDecoder(types.btf, types.pick(None, {size}))
    assert (decoder.size, decoder.columns) == (size, columns)
    sample = bytearray(size)
    sample[0:4] = (4242).to_bytes(4, "little")
    assert decoder.decode(bytes(sample))[0] == 4242
