"""Read a BPF perf event array from its per-CPU mapped buffers, a batch at a time.

What libbpf's `perf_buffer__new` does, without its callback per sample: one
BPF-output software event per online CPU (perf_event_open), its buffer
mapped (a header page, then 2^n data pages), the event enabled and its fd
stored in the map at that CPU's index. Each buffer is the kernel's perf ring:
`data_head` (written by the kernel) and `data_tail` (ours) in the header page
at 1024 and 1032; records of `struct perf_event_header` (u32 type, u16 misc,
u16 size), 8-byte aligned, that may run past the end of the data area (then
copied in two pieces). A sample record holds a u32 size and the sample
(padded so the record stays aligned); a lost record, the count the kernel
dropped. Ordering: as for ring buffers (`ringbuf`), x86-64 and s390x only.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import struct
from collections.abc import Callable

from ecli.errors import RuntimeLoadError
from ecli.kernel import system
from ecli.runtime import libbpf
from ecli.runtime.attach.perf_event import PERF_TYPE_SOFTWARE, perf_event_open
from ecli.runtime.ringbuf import MAX_BATCH, MappedBuffer, Samples

PERF_COUNT_SW_BPF_OUTPUT = 10
PERF_SAMPLE_RAW = 1 << 10
PERF_RECORD_LOST, PERF_RECORD_SAMPLE = 2, 9
PERF_EVENT_IOC_ENABLE = 0x2400  # _IO('$', 0)
DATA_HEAD, DATA_TAIL = 1024, 1032  # in struct perf_event_mmap_page
_HEADER = struct.Struct("<IHH")
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")


def _open_output_event(cpu: int) -> int:
    """perf_event_open of a BPF-output event on `cpu`: every sample wakes the reader."""
    attr = bytearray(128)
    # type, size, config, sample_period, sample_type, read_format, flags, wakeup_events
    struct.pack_into("<IIQQQQQI", attr, 0, PERF_TYPE_SOFTWARE, len(attr),
                     PERF_COUNT_SW_BPF_OUTPUT, 1, PERF_SAMPLE_RAW, 0, 0, 1)
    return perf_event_open(attr, cpu)


class CpuBuffer(MappedBuffer):
    """One CPU's buffer: `read` returns the next batch, `release` hands it back; the
    counts of lost records go to `on_lost`."""

    def __init__(self, cpu: int, pages: int, on_lost: Callable[[int], None]) -> None:
        self.on_lost = on_lost
        self.fd = _open_output_event(cpu)
        page = mmap.PAGESIZE
        self.size = pages * page
        try:
            self._map = mmap.mmap(self.fd, page + self.size, mmap.MAP_SHARED,
                                  mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError:
            os.close(self.fd)
            raise
        try:
            fcntl.ioctl(self.fd, PERF_EVENT_IOC_ENABLE, 0)
        except OSError:
            self._map.close()
            os.close(self.fd)
            raise
        whole = memoryview(self._map)
        self._head = whole[DATA_HEAD : DATA_HEAD + 8].cast("Q")
        self._tail = self._position = whole[DATA_TAIL : DATA_TAIL + 8].cast("Q")
        self.data = whole[page:]
        self._views = (self._head, self._tail, self.data, whole)
        self._maps = (self._map,)
        self._next = self._tail[0]

    def read(self) -> Samples:
        """The next samples (at most MAX_BATCH of them)."""
        tail, head = self._tail[0], self._head[0]
        data, size, mask = self.data, self.size, self.size - 1
        offsets: list[int] = []
        sizes: list[int] = []
        while tail < head and len(offsets) < MAX_BATCH:
            offset = tail & mask
            kind, _misc, length = _HEADER.unpack_from(data, offset)
            if length < _HEADER.size:
                raise RuntimeLoadError(f"perf buffer: a record of {length} bytes at {tail}")
            if offset + length > size:  # runs past the end: a batch of its own, copied
                if offsets:
                    break
                record = bytes(data[offset:]) + bytes(data[: offset + length - size])
                self._next = tail + length
                if kind == PERF_RECORD_SAMPLE:
                    return Samples(record, [12], [_U32.unpack_from(record, 8)[0]])
                self._lost(kind, record, 0)
                return Samples(b"", [], [])
            if kind == PERF_RECORD_SAMPLE:
                offsets.append(offset + 12)
                sizes.append(_U32.unpack_from(data, offset + 8)[0])
            else:
                self._lost(kind, data, offset)
            tail += length
        self._next = tail
        return Samples(data, offsets, sizes)

    def _lost(self, kind: int, data: bytes | memoryview, offset: int) -> None:
        """A PERF_RECORD_LOST holds u64 id, u64 count after its header."""
        if kind == PERF_RECORD_LOST:
            self.on_lost(_U64.unpack_from(data, offset + 16)[0])

    def close(self) -> None:
        super().close()
        os.close(self.fd)


def open_buffers(map_fd: int, pages: int, on_lost: Callable[[int], None]) -> list[CpuBuffer]:
    """A buffer per online CPU, each stored in the perf event array at its CPU's index."""
    buffers: list[CpuBuffer] = []
    lib = libbpf.get()
    try:
        for cpu in system.online_cpus():
            buffer = CpuBuffer(cpu, pages, on_lost)
            buffers.append(buffer)
            key, value = ctypes.c_uint32(cpu), ctypes.c_uint32(buffer.fd)
            if lib.bpf_map_update_elem(map_fd, ctypes.byref(key), ctypes.byref(value), 0):
                raise RuntimeLoadError(f"cannot store the perf buffer of CPU {cpu}: "
                                       f"{libbpf.strerror(libbpf.last_errno())}")
    except BaseException:
        for buffer in buffers:
            buffer.close()
        raise
    return buffers
