"""ecli.runtime.mapread on the real kernel: batch lookups, and the key-by-key path that
kernels without them take, read the same rows of the same real maps.

tests/bpf/maps_read.bpf.c fills a hash of structs, a per-CPU hash, an array and a
per-CPU array of 4-byte values when this process calls getppid(); the test then
deletes, adds and changes entries from user space, so the maps hold holes, keys
the program never wrote and a different value on each CPU. This kernel has batch
lookups, so `batched=False` is the only way to run the other path here.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from ecli.runtime import libbpf
from ecli.runtime.attach import Attached
from ecli.runtime.loader import LoadedObject
from ecli.runtime.mapread import BATCH, EntryReader
from ecli.runtime.runner import RunSettings, prepare
from ecli.runtime.spec import MapSpec

pytestmark = pytest.mark.root
ENTRIES = 5000  # as maps_read.bpf.c fills them: more than one batch
ROW = struct.Struct("<QI16s4x")  # struct row: count, key, comm, padding to 8
OWN_COMM = Path("/proc/self/comm").read_bytes().strip()
MAPS = ("rows", "per_cpu", "squares", "calls")


class Loaded(NamedTuple):
    fd: dict[str, int]
    spec: dict[str, MapSpec]
    cpus: int


def _u32(value: int) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(struct.pack("<I", value), 4)


def _update(fd: int, key: int, value: bytes) -> None:
    buffer = ctypes.create_string_buffer(value, len(value))
    assert libbpf.get().bpf_map_update_elem(fd, _u32(key), buffer, 0) == 0


def _per_cpu(values: list[int]) -> bytes:
    """One u64 a CPU; a u32 value is padded to 8 bytes too, so this fits both."""
    return b"".join(struct.pack("<Q", v) for v in values)


@pytest.fixture(scope="module")
def maps(objects) -> Iterator[Loaded]:
    """maps_read loaded, filled by one getppid() of this process, detached, then changed
    from user space; unloaded after the module's tests."""
    run = prepare(objects["maps_read"], RunSettings(), "maps_read",
                  ["--targ-pid", str(os.getpid())])
    lib = libbpf.get()
    with LoadedObject(run.spec, run.args.rodata, run.name) as loaded:
        with Attached(loaded, run.args.attach):
            os.getppid()
        fd = {name: loaded.map_fd(name) for name in MAPS}
        cpus = lib.libbpf_num_possible_cpus()
        for key in range(100):  # holes at the start of the hash
            assert lib.bpf_map_delete_elem_flags(fd["rows"], _u32(key), 0) == 0
        _update(fd["rows"], 6000, ROW.pack(42, 6000, b"user"))  # a key the program never wrote
        _update(fd["per_cpu"], 7000, _per_cpu([cpu * 10 + 1 for cpu in range(cpus)]))
        _update(fd["squares"], ENTRIES - 1, struct.pack("<Q", 12345))
        _update(fd["calls"], 3, _per_cpu([cpu + 100 for cpu in range(cpus)]))
        yield Loaded(fd, {m.name: m for m in run.spec.maps if m.name in MAPS}, cpus)


def _read(maps: Loaded, name: str, *, batched: bool, limit: int = 1 << 20) -> EntryReader:
    spec = maps.spec[name]
    return EntryReader(maps.fd[name], spec.type, spec.key_size, spec.value_size, limit,
                       batched=batched)


def _rows(reader: EntryReader) -> dict[int, bytes]:
    rows = {struct.unpack("<I", key)[0]: value for key, value in reader}
    assert reader.error == "" and not reader.truncated
    assert reader.read == len(rows), "each key once"
    return rows


def _per_cpu_values(value: bytes, cpus: int, fmt: str) -> list[int]:
    """Each CPU's copy, 8 bytes apart whatever the value's size."""
    return [struct.unpack_from(fmt, value, cpu * 8)[0] for cpu in range(cpus)]


@pytest.mark.parametrize("name", MAPS)
def test_the_kernel_has_batch_lookups_for_the_map(maps, name):
    """Else both readers would take the key-by-key path and the comparison prove nothing."""
    spec = maps.spec[name]
    count = ctypes.c_uint32(16)  # a hash's batch holds whole buckets: room for one
    keys = ctypes.create_string_buffer(spec.key_size * 16)
    values = ctypes.create_string_buffer((spec.value_size + 7) // 8 * 8 * maps.cpus * 16)
    token = ctypes.create_string_buffer(8)
    rc = libbpf.get().bpf_map_lookup_batch(maps.fd[name], None, token, keys, values,
                                          ctypes.byref(count), None)
    assert rc == 0 or libbpf.last_errno(rc) == errno.ENOENT, libbpf.strerror(-rc)
    assert count.value > 0


@pytest.mark.parametrize("name", MAPS)
def test_batches_and_key_by_key_read_the_same_rows(maps, name):
    batched = _rows(_read(maps, name, batched=True))
    one_by_one = _rows(_read(maps, name, batched=False))
    assert batched == one_by_one


def test_the_hash_of_structs_holds_what_the_program_and_user_space_wrote(maps):
    rows = _rows(_read(maps, "rows", batched=False))
    assert set(rows) == {*range(100, ENTRIES), 6000}
    assert ROW.unpack(rows[6000]) == (42, 6000, b"user".ljust(16, b"\0"))
    for key in range(100, ENTRIES):
        count, stored_key, comm = ROW.unpack(rows[key])
        assert (count, stored_key, comm.rstrip(b"\0")) == (3 * key, key, OWN_COMM)


def test_per_cpu_maps_hold_every_cpus_copy(maps):
    per_cpu = _rows(_read(maps, "per_cpu", batched=False))
    assert set(per_cpu) == {*range(ENTRIES), 7000}
    assert _per_cpu_values(per_cpu[7000], maps.cpus, "<Q") == [
        cpu * 10 + 1 for cpu in range(maps.cpus)]
    for key in range(ENTRIES):  # written once, on the one CPU the program ran on
        assert sorted(_per_cpu_values(per_cpu[key], maps.cpus, "<Q"))[-1] == key + 1
        assert sum(_per_cpu_values(per_cpu[key], maps.cpus, "<Q")) == key + 1
    calls = _rows(_read(maps, "calls", batched=False))
    assert set(calls) == set(range(16))  # an array lists every index
    assert sum(_per_cpu_values(calls[0], maps.cpus, "<I")) == 1
    assert _per_cpu_values(calls[3], maps.cpus, "<I") == [cpu + 100 for cpu in range(maps.cpus)]


def test_the_array_holds_what_the_program_and_user_space_wrote(maps):
    squares = _rows(_read(maps, "squares", batched=False))
    assert {key: struct.unpack("<Q", value)[0] for key, value in squares.items()} == {
        **{i: i * i for i in range(ENTRIES - 1)}, ENTRIES - 1: 12345}


@pytest.mark.parametrize("batched", [True, False], ids=["batches", "key by key"])
def test_both_paths_stop_at_the_limit(maps, batched):
    limit = BATCH + 10  # inside the second batch
    reader = _read(maps, "rows", batched=batched, limit=limit)
    read = list(reader)
    assert (len(read), reader.read, reader.truncated, reader.error) == (limit, limit, True, "")
    everything = _rows(_read(maps, "rows", batched=batched))
    assert {struct.unpack("<I", key)[0]: value for key, value in read}.items() \
        <= everything.items()
