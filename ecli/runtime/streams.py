"""Event streams out of the kernel: ring buffers and perf event arrays.

Both kinds wait on one epoll set, so a program may use either or both, and
both hand their handler `Samples` in batches, so decoding and writing cost
one call per batch. Ring buffers are read from their mapped pages
(`ringbuf.RingReader`); perf buffers through libbpf, whose per-sample
callback only copies the sample into the batch. An exception in a handler
is raised in Python, never lost in C. Lost events are counted: perf buffers
report them, and ring buffers declared with ECLI_RINGBUF count failed
reservations in a global that is read here.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import select
from collections.abc import Callable
from typing import TYPE_CHECKING

from ecli.errors import RuntimeLoadError
from ecli.kernel.types import MAP_PERF_EVENT_ARRAY, MAP_RINGBUF
from ecli.runtime import libbpf
from ecli.runtime.ringbuf import MAX_BATCH, RingReader, Samples, max_entries, ordered_memory
from ecli.runtime.spec import GlobalSpec, MapSpec

if TYPE_CHECKING:
    from ecli.runtime.perfbuf import CpuBuffer

BatchHandler = Callable[[Samples], None]
PERF_BUFFER_PAGES = 64  # per CPU
DRAIN_BATCHES = 16  # per ring and drain: 65,536 records, about 0.1 s of work


class _Copied:
    """Samples copied out of libbpf's callbacks, joined into one buffer per batch."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def add(self, data: int, size: int) -> None:
        self.chunks.append(ctypes.string_at(data, size))

    def take(self) -> Samples:
        chunks, self.chunks = self.chunks, []
        sizes = [len(chunk) for chunk in chunks]
        offsets, position = [], 0
        for size in sizes:
            offsets.append(position)
            position += size
        return Samples(b"".join(chunks), offsets, sizes)


class _LibbpfRing:
    """A ring buffer through libbpf, for machines whose memory ordering `RingReader`
    cannot rely on: the callback stops libbpf after MAX_BATCH samples."""

    def __init__(self, name: str, map_name: str, fd: int) -> None:
        self.lib = libbpf.get()
        self.where = f"{name}: ring buffer {map_name}"
        self.size = max_entries(fd)
        self._copied = _Copied()
        self._full = False

        def sample(_ctx: int, data: int, size: int) -> int:
            self._copied.add(data, size)
            return -errnos.ECANCELED if len(self._copied.chunks) >= MAX_BATCH else 0

        self._callback = libbpf.SAMPLE_FN(sample)  # must outlive the buffer
        self._ring = self.lib.ring_buffer__new(fd, self._callback, None, None)
        if not self._ring:
            raise RuntimeLoadError(f"{self.where}: cannot open it: "
                                   f"{libbpf.strerror(libbpf.last_errno())}")

    def epoll_fd(self) -> int:
        return self.lib.ring_buffer__epoll_fd(self._ring)

    def read(self) -> Samples:
        result = self.lib.ring_buffer__consume(self._ring)
        if result < 0 and -result not in (errnos.EINTR, errnos.ECANCELED):
            raise RuntimeLoadError(f"{self.where}: reading it failed: "
                                   f"{libbpf.strerror(-result)}")
        self._full = result == -errnos.ECANCELED
        return self._copied.take()

    def release(self) -> bool:
        """libbpf has released the records already; whether more may be waiting."""
        return self._full

    def close(self) -> None:
        self.lib.ring_buffer__free(self._ring)


class EventStreams:
    def __init__(self, name: str) -> None:
        self.name = name
        # ring buffers, and perf buffers (one per CPU), read a batch at a time
        self._rings: list[tuple[RingReader | _LibbpfRing | CpuBuffer, BatchHandler]] = []
        self._perf: list[tuple[int, _Copied, BatchHandler]] = []
        self._callbacks: list[object] = []  # ctypes callbacks must outlive the buffers
        self._perf_lost: dict[str, int] = {}
        self._left = False  # the last drain stopped before a buffer was empty
        self._epoll = select.epoll()

    def add(self, event_map: MapSpec, fd: int, handler: BatchHandler) -> None:
        if event_map.type == MAP_RINGBUF:
            self._add_ring(event_map.name, fd, handler)
        elif event_map.type == MAP_PERF_EVENT_ARRAY:
            self._add_perf(event_map.name, fd, handler)

    def _add_ring(self, map_name: str, fd: int, handler: BatchHandler) -> None:
        if not ordered_memory():
            ring = _LibbpfRing(self.name, map_name, fd)
            self._rings.append((ring, handler))
            self._epoll.register(ring.epoll_fd(), select.EPOLLIN)
            return
        try:
            reader = RingReader(fd)
        except OSError as exc:
            raise RuntimeLoadError(f"{self.name}: ring buffer {map_name}: cannot map it: "
                                   f"{exc.strerror or exc}") from None
        self._rings.append((reader, handler))
        self._epoll.register(fd, select.EPOLLIN)  # readable while the ring holds data

    def _add_perf(self, map_name: str, fd: int, handler: BatchHandler) -> None:
        self._perf_lost[map_name] = 0
        if not ordered_memory():
            self._add_libbpf_perf(map_name, fd, handler)
            return
        from ecli.runtime import perfbuf

        def lost(count: int) -> None:
            self._perf_lost[map_name] += count

        try:
            buffers = perfbuf.open_buffers(fd, PERF_BUFFER_PAGES, lost)
        except OSError as exc:
            raise RuntimeLoadError(f"{self.name}: perf buffer {map_name}: cannot map it: "
                                   f"{exc.strerror or exc}") from None
        for buffer in buffers:
            self._rings.append((buffer, handler))
            self._epoll.register(buffer.fd, select.EPOLLIN)

    def _add_libbpf_perf(self, map_name: str, fd: int, handler: BatchHandler) -> None:
        """libbpf's perf buffer: its callback copies each sample into the batch."""
        copied = _Copied()

        def sample(_ctx: int, _cpu: int, data: int, size: int) -> None:
            copied.add(data, size)

        def lost(_ctx: int, _cpu: int, count: int) -> None:
            self._perf_lost[map_name] += count

        callbacks = (libbpf.PERF_SAMPLE_FN(sample), libbpf.PERF_LOST_FN(lost))
        self._callbacks.extend(callbacks)
        lib = libbpf.get()
        buffer = lib.perf_buffer__new(fd, PERF_BUFFER_PAGES, *callbacks, None, None)
        if not buffer:
            raise RuntimeLoadError(f"{self.name}: cannot open perf buffer {map_name}: "
                                   f"{libbpf.strerror(libbpf.last_errno())}")
        self._perf.append((buffer, copied, handler))
        self._epoll.register(lib.perf_buffer__epoll_fd(buffer), select.EPOLLIN)

    @property
    def empty(self) -> bool:
        return not self._rings and not self._perf

    def poll(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for samples and hand them to the handlers;
        how many were handed over."""
        try:  # what the last drain left is read at once: a perf buffer wakes only once
            ready = self._epoll.poll(0 if self._left else timeout)
        except InterruptedError:
            return 0
        return self.drain() if ready or self._left else 0

    def drain(self, final: bool = False) -> int:
        """Hand over what the buffers hold: each perf buffer once, each ring until it
        is empty or DRAIN_BATCHES batches were read (a producer faster than us must
        not keep the run from its flushes, reports and signals); at the end of a run
        (`final`), until it is empty or as much as it holds was read. How many
        samples were handed over."""
        handed, self._left = 0, False
        for ring, handler in self._rings:
            # a record takes 8 bytes or more (its header): a ring holds size // 8 at most
            rounds = ring.size // (8 * MAX_BATCH) + 1 if final else DRAIN_BATCHES
            for _ in range(rounds):
                samples = ring.read()
                handed += len(samples.offsets)
                try:
                    if samples.offsets:
                        handler(samples)
                finally:
                    more = ring.release()
                if not more:
                    break
            else:
                self._left = True
        for buffer, copied, handler in self._perf:
            libbpf.get().perf_buffer__consume(buffer)
            samples = copied.take()
            handed += len(samples.offsets)
            if samples.offsets:
                handler(samples)
        return handed

    def lost(self, read_global: Callable[[GlobalSpec], bytes],
             counters: dict[str, GlobalSpec]) -> dict[str, int]:
        """Events lost per map so far: perf buffers' reports and ring buffers' counters."""
        lost = dict(self._perf_lost)
        for map_name, counter in counters.items():
            lost[map_name] = int.from_bytes(read_global(counter), "little")
        return lost

    def close(self) -> None:
        for ring, _handler in self._rings:
            ring.close()
        self._rings.clear()
        lib = libbpf.get() if self._perf else None
        for buffer, _copied, _handler in self._perf:
            lib.perf_buffer__free(buffer)  # type: ignore[union-attr]
        self._perf.clear()
        self._epoll.close()
