"""wasm-bpf modules for tests: the example built with the real toolchain, and bad ones in WAT.

examples/wasm-execsnoop builds with Debian's clang for wasm32-wasi (its Makefile);
the bad modules are written in WebAssembly text, turned into binaries by
wasmtime's own wat2wasm, and some carry the example's real eBPF object in a data
segment so that they fail after loading it (which must leave nothing loaded).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import wasmtime

from ecli.oci import mediatypes
from ecli.oci import registry as oci_registry
from ecli.oci.manifest import Descriptor, Manifest
from ecli.oci.reference import OciReference
from ecli.oci.store import Store

from bpf_objects import ROOT, vmlinux_dir

EXAMPLE = ROOT / "examples" / "wasm-execsnoop"
PROGRAM = "wasm_execsnoop"  # the example's eBPF program, as the kernel names it
HEADER = "PID      UID    COMM             FILENAME"


def build_execsnoop(out: Path) -> Path:
    """`make` in examples/wasm-execsnoop into `out`; the module's path."""
    subprocess.run(["make", "-s", "-C", str(EXAMPLE), f"O={out}",
                    f"VMLINUX_DIR={vmlinux_dir()}"], check=True, capture_output=True)
    return out / "execsnoop.wasm"


def wat_module(path: Path, text: str) -> Path:
    path.write_bytes(wasmtime.wat2wasm(text))
    return path


def _bytes(data: bytes) -> str:
    return "".join(f"\\{byte:02x}" for byte in data)


def loading_module(obj: bytes, body: str, *, table: int = 1) -> str:
    """A module that loads `obj` (at 4096) into $h and attaches its program, then runs
    `body`. Strings: program name at 16, "events" at 40."""
    return f"""(module
  (import "wasm_bpf" "wasm_load_bpf_object" (func $load (param i32 i32) (result i64)))
  (import "wasm_bpf" "wasm_attach_bpf_program" (func $attach (param i64 i32 i32) (result i32)))
  (import "wasm_bpf" "wasm_bpf_map_fd_by_name" (func $fd (param i64 i32) (result i32)))
  (import "wasm_bpf" "wasm_bpf_buffer_poll"
    (func $poll (param i64 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (table (export "__indirect_function_table") {table} funcref)
  (data (i32.const 16) "{PROGRAM}\\00")
  (data (i32.const 40) "events\\00")
  (data (i32.const 4096) "{_bytes(obj)}")
  (func (export "_start") (local $h i64)
    (local.set $h (call $load (i32.const 4096) (i32.const {len(obj)})))
    (drop (call $attach (local.get $h) (i32.const 16) (i32.const 0)))
    {body}))"""


def named_programs(name: str) -> set[int]:
    """Ids of the kernel's programs called `name` (at most 15 characters)."""
    shown = subprocess.run(["bpftool", "-j", "prog", "show"], check=True, capture_output=True,
                           text=True).stdout
    return {p["id"] for p in json.loads(shown or "[]") if p.get("name") == name}


def push_wasm_to_oci(module: Path, ref: OciReference, work: Path) -> str:
    """Push `module` as wasm-to-oci and eunomia-bpf's ecli do: config `{}` of type
    application/vnd.wasm.config.v1+json, one application/vnd.wasm.content.layer.v1+wasm
    layer. Returns the manifest digest."""
    layout = Store(work)
    data = module.read_bytes()
    manifest = Manifest(
        mediatypes.OCI_MANIFEST,
        Descriptor(mediatypes.WASM_CONFIG, layout.write_blob(b"{}"), 2),
        (Descriptor(mediatypes.WASM_MODULE, layout.write_blob(data), len(data),
                    {mediatypes.ANNOTATION_TITLE: module.name}),),
    )
    layout.add_ref(ref.tag or "latest", layout.write_blob(manifest.to_json()))
    return oci_registry.push(layout, ref)
