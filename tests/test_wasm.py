"""wasm-bpf modules run by ecli: a module built here with clang for wasm32-wasi runs by
path and by OCI reference (the wasm-to-oci layout eunomia-bpf pushes, and ours) on the
real kernel with real events; bad modules are one line each, nothing left loaded."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from wasm_modules import (
    HEADER,
    PROGRAM,
    build_execsnoop,
    loading_module,
    named_programs,
    push_wasm_to_oci,
    wat_module,
)

from ecli.hubindex import model
from ecli.oci import artifact
from ecli.oci import reference as references
from ecli.oci import registry as oci_registry
from ecli.oci.config import PackageConfig
from ecli.oci.store import Store
from generator.__main__ import main as generator_main

from bpf_objects import ROOT
from ecli_process import ecli_command, error_line, programs_left, run_ecli
from index_fixtures import entry_index, write_index

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_execsnoop(tmp_path_factory.mktemp("wasm-execsnoop"))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """A program with a name no other exec on the machine has."""
    path = tmp_path / f"wx{uuid.uuid4().hex[:10]}"
    shutil.copy("/bin/true", path)
    return path


def run_and_exec(target: str, marker: Path, env: dict[str, str], *args: str
                 ) -> tuple[str, str, int]:
    """`ecli run TARGET -c MARKER -n 2`, exec'ing `marker` until the run ends; (stdout,
    stderr, status).
    Each program named like the example's that appeared meanwhile must be gone after."""
    before = named_programs(PROGRAM)
    command = ecli_command("run", "--yes", *args, target, "-c", marker.name, "-n", "2")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)

    def trigger() -> None:
        while process.poll() is None:
            subprocess.run([str(marker)], check=False)
            time.sleep(0.05)

    threading.Thread(target=trigger, daemon=True).start()
    out, err = process.communicate(timeout=60)
    assert named_programs(PROGRAM) - before == set()
    return out, err, process.returncode


def assert_events(out: str, marker: Path) -> None:
    lines = out.splitlines()
    assert lines[0] == HEADER
    mine = [line.split() for line in lines[1:-1]]
    assert len(mine) == 2, out
    assert all(fields[1:] == ["0", marker.name, str(marker)] for fields in mine)
    counted = int(lines[-1].removeprefix("execs counted by the kernel: "))
    assert counted >= 2


def test_a_module_runs_by_path_with_real_events(module, marker, env):
    out, err, code = run_and_exec(str(module), marker, env)
    assert code == 0, err
    assert_events(out, marker)
    assert "ecli: execsnoop: permissions" in err and "read-kernel-memory" in err
    assert re.search(r"ecli: execsnoop: exited, \d+ event\(s\) passed to the module", err)


@pytest.mark.parametrize("layout", ["wasm-to-oci", "ebpfhub"])
def test_a_module_runs_by_oci_reference(module, marker, env, registry, tmp_path, layout):
    ref = references.parse(f"{registry.host}/wasm/execsnoop:0.1.0")
    if layout == "wasm-to-oci":
        push_wasm_to_oci(module, ref, tmp_path / "layout")
    else:
        store = Store(tmp_path / "layout")
        config = PackageConfig(name="execsnoop", version="0.1.0", kind="wasm",
                               object="execsnoop.wasm")
        artifact.create(store, config, [module], tag="0.1.0")
        oci_registry.push(store, ref)
    out, err, code = run_and_exec(str(ref), marker, env)
    assert code == 0, err
    assert_events(out, marker)
    inspected = run_ecli("inspect", str(ref), env=env)
    assert "execsnoop 0.1.0 (kind wasm)" in inspected.stdout
    assert "tracepoint/sched/sched_process_exec" in inspected.stdout


def test_ctrl_c_stops_a_module_waiting_in_poll(module, env):
    before = named_programs(PROGRAM)
    process = subprocess.Popen(ecli_command("run", "--yes", str(module)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    assert process.stdout is not None
    assert process.stdout.readline().rstrip() == HEADER  # loaded and attached
    assert named_programs(PROGRAM) - before
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "ecli: execsnoop: stopped" in err
    assert named_programs(PROGRAM) - before == set()


LOOP = '(module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))'


@pytest.mark.parametrize("how", ["duration", "sigint"])
def test_a_module_that_loops_forever_still_stops(tmp_path, env, how):
    loop = wat_module(tmp_path / "loop.wasm", LOOP)
    started = time.monotonic()
    if how == "duration":
        ran = run_ecli("run", "--duration", "1", str(loop), env=env, timeout=20)
        code, err = ran.returncode, ran.stderr
    else:
        process = subprocess.Popen(ecli_command("run", str(loop)), stderr=subprocess.PIPE,
                                   text=True, env=env)
        time.sleep(1.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
        code = process.returncode
    assert code == 0, err
    assert "ecli: loop: stopped, 0 event(s)" in err
    assert time.monotonic() - started < 10


IMPORTS = {
    "unknown": '(import "env" "system" (func (param i32) (result i32)))',
    "signature": '(import "wasm_bpf" "wasm_load_bpf_object" (func (param i32) (result i32)))',
}
BAD = {
    "unknown-import": (
        f'(module {IMPORTS["unknown"]} (memory (export "memory") 1) (func (export "_start")))',
        "the module imports env.system, which ecli does not provide (it gives wasm_bpf.* "
        "and WASI preview 1)"),
    "wrong-signature": (
        f'(module {IMPORTS["signature"]} (memory (export "memory") 1) '
        '(func (export "_start")))',
        "the module imports wasm_bpf.wasm_load_bpf_object with another signature than "
        "wasm-bpf's"),
    "too-much-memory": (
        '(module (memory (export "memory") 20000) (func (export "_start")))',
        "cannot start the module: memory minimum size of 20000 pages exceeds memory limits"),
    "no-start": ('(module (memory (export "memory") 1))',
                 "the module exports no '_start' (build it as a WASI command)"),
    "object-out-of-bounds": (
        '(module (import "wasm_bpf" "wasm_load_bpf_object" '
        '(func $l (param i32 i32) (result i64))) (memory (export "memory") 1) '
        '(func (export "_start") (drop (call $l (i32.const 65000) (i32.const 4096)))))',
        "wasm_load_bpf_object: the object at 0xfde8, 4096 bytes, lies outside the module's "
        "memory (65536 bytes)"),
    "endless-string": (
        '(module (import "wasm_bpf" "wasm_bpf_map_fd_by_name" '
        '(func $f (param i64 i32) (result i32))) (memory (export "memory") 1) '
        '(data (i32.const 65535) "x") '
        '(func (export "_start") (drop (call $f (i64.const 1) (i32.const 65535)))))',
        "wasm_bpf_map_fd_by_name: the map name at 0xffff has no terminating NUL within "
        "4096 bytes or the module's memory"),
    "trap": ('(module (memory (export "memory") 1) (func (export "_start") unreachable))',
             "the module trapped: wasm trap: wasm `unreachable` instruction executed"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_modules_are_one_line(tmp_path, env, case):
    text, message = BAD[case]
    ran = run_ecli("run", str(wat_module(tmp_path / f"{case}.wasm", text)), env=env)
    assert ran.returncode != 0
    assert error_line(ran) == f"ecli: error: {case}: {message}"
    assert "Traceback" not in ran.stderr


AFTER_LOAD = {
    # the poll buffer runs past the end of memory (2 pages: 131072 bytes)
    "poll-out-of-bounds": (
        "(drop (call $poll (local.get $h) (call $fd (local.get $h) (i32.const 40)) "
        "(i32.const 0) (i32.const 0) (i32.const 131000) (i32.const 200) (i32.const 10)))",
        "wasm_bpf_buffer_poll: the poll buffer at 0x1ffb8, 200 bytes, lies outside the "
        "module's memory (131072 bytes)"),
    # the sample callback is entry 7 of a table of 1
    "bad-callback": (
        "(drop (call $poll (local.get $h) (call $fd (local.get $h) (i32.const 40)) "
        "(i32.const 7) (i32.const 0) (i32.const 1024) (i32.const 200) (i32.const 10)))",
        "wasm_bpf_buffer_poll: sample callback 7 is not a function of the module's table "
        "(1 entries)"),
}


@pytest.mark.parametrize("case", sorted(AFTER_LOAD))
def test_faults_after_a_load_leave_nothing_loaded(module, tmp_path, env, case):
    obj = (module.parent / "wasm_execsnoop.bpf.o").read_bytes()
    body, message = AFTER_LOAD[case]
    bad = wat_module(tmp_path / f"{case}.wasm", loading_module(obj, body))
    before = named_programs(PROGRAM)
    ran = run_ecli("run", "--yes", str(bad), env=env)
    assert ran.returncode != 0
    assert error_line(ran) == f"ecli: error: {case}: {message}"
    assert named_programs(PROGRAM) - before == set()


def test_a_module_may_not_load_objects_without_end(module, tmp_path, env):
    obj = (module.parent / "wasm_execsnoop.bpf.o").read_bytes()
    body = ("(loop $again (drop (call $load (i32.const 4096) (i32.const " + str(len(obj))
            + "))) (br $again))")
    greedy = wat_module(tmp_path / "greedy.wasm", loading_module(obj, body))
    before = named_programs(PROGRAM)
    ran = run_ecli("run", "--yes", str(greedy), env=env, timeout=120)
    assert ran.returncode != 0
    assert error_line(ran) == ("ecli: error: greedy: wasm_load_bpf_object: the module has 64 "
                               "objects loaded already")
    assert named_programs(PROGRAM) - before == set()


def test_a_module_may_not_operate_on_descriptors_it_did_not_get(tmp_path, env):
    """wasm_bpf_map_operate on ecli's own stdout: -EBADF, which the module exits with."""
    text = """(module
      (import "wasm_bpf" "wasm_bpf_map_operate"
        (func $op (param i32 i32 i32 i32 i32 i64) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        (call $exit (i32.sub (i32.const 0) (call $op (i32.const 1) (i32.const 1)
          (i32.const 0) (i32.const 64) (i32.const 0) (i64.const 0))))))"""
    ran = run_ecli("run", str(wat_module(tmp_path / "foreign.wasm", text)), env=env)
    assert ran.returncode == 9, ran.stderr  # EBADF


def test_a_module_gets_its_arguments_and_its_exit_status_is_ecli_s(module, env):
    ran = run_ecli("run", "--yes", str(module), "--bogus", env=env)
    assert ran.returncode == 2
    assert "usage: execsnoop [-n EVENTS] [-c COMM]" in ran.stderr


def test_the_hub_inspects_the_object_a_wasm_module_embeds(module, registry, tmp_path, capsys):
    ref = references.parse(f"{registry.host}/wasm/wasmsnoop:0.1.0")
    digest = push_wasm_to_oci(module, ref, tmp_path / "layout")
    index = entry_index(tmp_path, "wasmsnoop", str(ref), kind="wasm", version="0.1.0",
                        summary="execs, seen from a wasm-bpf module")
    assert generator_main(["validate", "--index", str(index)]) == 0
    assert generator_main(["resolve", "--index", str(index)]) == 0
    assert generator_main(["inspect", "--index", str(index), "--store",
                           str(tmp_path / "cache")]) == 0
    assert "1 digest(s) inspected, 1 pulled" in capsys.readouterr().out
    found = json.loads((index / "inspection.json").read_text())["digests"][digest]
    assert {p["id"] for p in found["inspection"]["permissions"]} >= {"read-kernel-memory"}
    assert found["inspection"]["programs"][0]["section"] == "tracepoint/sched/sched_process_exec"
    out = tmp_path / "site"
    assert generator_main(["build", "--index", str(index), "--offline", "--out", str(out),
                           "--config", str(ROOT / "mkdocs.yml")]) == 0
    document = json.loads((out / "api" / "v1" / "packages" / "wasmsnoop.json").read_text())
    assert document["kind"] == "wasm"
    page = (out / "packages" / "wasmsnoop" / "index.html").read_text()
    assert "read-kernel-memory" in page and "kind: wasm" in page


def test_the_hub_lists_a_module_without_an_embedded_object_uninspected(registry, tmp_path,
                                                                         capsys):
    ref = references.parse(f"{registry.host}/wasm/wasmsnoop:0.1.0")
    digest = push_wasm_to_oci(wat_module(tmp_path / "loop.wasm", LOOP), ref, tmp_path / "l")
    index = entry_index(tmp_path, "wasmsnoop", str(ref), kind="wasm", version="0.1.0",
                        summary="execs, seen from a wasm-bpf module")
    assert generator_main(["resolve", "--index", str(index)]) == 0
    assert generator_main(["inspect", "--index", str(index), "--store",
                           str(tmp_path / "cache")]) == 0
    capsys.readouterr()
    found = json.loads((index / "inspection.json").read_text())["digests"][digest]
    assert found["inspection"] is None
    out = tmp_path / "site"
    assert generator_main(["build", "--index", str(index), "--offline", "--out", str(out),
                           "--config", str(ROOT / "mkdocs.yml")]) == 0
    page = (out / "packages" / "wasmsnoop" / "index.html").read_text()
    assert "Unknown: no eBPF object was found inside this wasm module" in page


def test_a_file_that_is_not_wasm_is_one_line(tmp_path, env):
    fake = tmp_path / "fake.wasm"
    fake.write_bytes(b"\x7fELF not a module")
    ran = run_ecli("run", str(fake), env=env)
    assert ran.returncode != 0
    assert error_line(ran).startswith(f"ecli: error: fake: {fake} is not a valid wasm module: ")


def test_an_index_lists_a_wasm_package_and_ecli_runs_it_by_name(module, marker, env, registry,
                                                                   tmp_path):
    ref = references.parse(f"{registry.host}/wasm/wasmsnoop:0.1.0")
    digest = push_wasm_to_oci(module, ref, tmp_path / "layout")
    document = model.PackageDocument(
        schema_version=1, name="wasmsnoop", summary="execs, from wasm", kind="wasm",
        versions=(model.Version("0.1.0", str(ref), f"{registry.host}/wasm/wasmsnoop", digest),))
    index = write_index(tmp_path / "index", [document])
    assert run_ecli("sources", "add", "local", str(index), env=env).returncode == 0
    assert run_ecli("update", env=env).returncode == 0
    out, err, code = run_and_exec("wasmsnoop", marker, env)
    assert code == 0, err
    assert_events(out, marker)


# The object is kept XOR 0x55 in the module and restored at start: no ELF header to find.
HIDDEN = """(module
  (import "wasm_bpf" "wasm_load_bpf_object" (func $load (param i32 i32) (result i64)))
  (memory (export "memory") 2)
  (data (i32.const 4096) "{data}")
  (func (export "_start") (local $i i32)
    (loop $next
      (i32.store8 (i32.add (i32.const 4096) (local.get $i))
        (i32.xor (i32.load8_u (i32.add (i32.const 4096) (local.get $i))) (i32.const 0x55)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const {size}))))
    (drop (call $load (i32.const 4096) (i32.const {size})))))"""


def test_an_object_with_unshown_dangerous_permissions_is_refused_at_load(objects, tmp_path,
                                                                          env):
    obj = objects["hub_inspect"].read_bytes()
    hidden = "".join(f"\\{byte ^ 0x55:02x}" for byte in obj)
    sneaky = wat_module(tmp_path / "sneaky.wasm", HIDDEN.format(data=hidden, size=len(obj)))
    shown = run_ecli("inspect", str(sneaky), env=env)
    assert "no eBPF object was found inside the wasm module" in shown.stdout
    before = named_programs("on_open")
    ran = run_ecli("run", str(sneaky), env=env)
    assert ran.returncode != 0
    assert error_line(ran) == ("ecli: error: sneaky: the module loads an object that can "
                               "send-signal, write-user-memory (dangerous), which was not "
                               "shown before the run")
    assert named_programs("on_open") - before == set()
    # with --yes the object reaches the kernel (whose verifier refuses bpf_probe_write_user
    # here, under lockdown): the refusal above was ecli's, before any load
    forced = run_ecli("run", "--yes", str(sneaky), env=env)
    assert "sneaky: object 1: the kernel verifier rejected the program" in forced.stderr
    assert named_programs("on_open") - before == set()


# wasm-bpf's Go SDK: poll through callback-wrapper, samples to the export go-callback.
GO_STYLE = """(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasm_bpf" "wasm_load_bpf_object" (func $load (param i32 i32) (result i64)))
  (import "wasm_bpf" "wasm_attach_bpf_program" (func $attach (param i64 i32 i32) (result i32)))
  (import "wasm_bpf" "wasm_bpf_map_fd_by_name" (func $fd (param i64 i32) (result i32)))
  (import "callback-wrapper" "wasm_bpf_buffer_poll"
    (func $poll (param i64 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "{program}\\00")
  (data (i32.const 40) "events\\00")
  (data (i32.const 4096) "{data}")
  (func (export "go-callback") (param i32 i32 i32) (result i32)
    (call $exit (i32.div_u (local.get 2) (i32.const 4))) (i32.const 0))
  (func (export "_start") (local $h i64)
    (local.set $h (call $load (i32.const 4096) (i32.const {size})))
    (drop (call $attach (local.get $h) (i32.const 16) (i32.const 0)))
    (loop $again
      (drop (call $poll (local.get $h) (call $fd (local.get $h) (i32.const 40))
        (i32.const 0) (i32.const 1024) (i32.const 200) (i32.const 100)))
      (br $again))))"""


def test_a_go_sdk_module_gets_samples_through_its_exported_callback(module, tmp_path, env):
    """The callback exits with the sample's size / 4 (152 bytes: struct event): the exit
    from inside a callback is the run's status, and the object is closed after it."""
    obj = (module.parent / "wasm_execsnoop.bpf.o").read_bytes()
    go = wat_module(tmp_path / "go.wasm", GO_STYLE.format(
        program=PROGRAM, data="".join(f"\\{b:02x}" for b in obj), size=len(obj)))
    before = named_programs(PROGRAM)
    process = subprocess.Popen(ecli_command("run", "--yes", str(go)), stderr=subprocess.PIPE,
                               text=True, env=env)
    while process.poll() is None:
        subprocess.run(["/bin/true"], check=False)
        time.sleep(0.05)
    assert process.returncode == 152 // 4, process.stderr.read() if process.stderr else ""
    assert named_programs(PROGRAM) - before == set()


def test_a_detached_module_reports_its_programs_and_stops(module, env):
    started = run_ecli("-v", "run", "--detach", "--yes", str(module), env=env)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    found = re.search(rf"program {PROGRAM} id (\d+) attached to "
                      r"tracepoint/sched/sched_process_exec", started.stderr)
    assert found, started.stderr
    listed = run_ecli("ps", env=env)
    assert run_id in listed.stdout
    assert run_ecli("stop", run_id, env=env).returncode == 0
    assert programs_left({int(found.group(1))}) == set()


def test_memory_grown_past_the_limit_is_refused_to_the_module(tmp_path, env):
    """memory.grow past 1 GiB gets -1, as out-of-memory does: the module sees it (here it
    exits 3), ecli goes on; the initial size past the limit is a one-line error above."""
    text = """(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        (if (i32.eq (memory.grow (i32.const 20000)) (i32.const -1))
          (then (call $exit (i32.const 3))))
        (call $exit (i32.const 4))))"""
    ran = run_ecli("run", str(wat_module(tmp_path / "grow.wasm", text)), env=env)
    assert ran.returncode == 3, ran.stderr
