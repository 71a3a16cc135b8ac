"""Event streams out of the kernel: ring buffers and perf event arrays.

Both kinds are polled through one epoll set, so a program may use either or
both. Samples reach the handlers through ctypes callbacks; an exception in a
handler stops the poll and is re-raised in Python, never lost in C. Lost
events are counted: perf buffers report them, and ring buffers declared with
ECLI_RINGBUF count failed reservations in a global that is read here.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import select
from collections.abc import Callable

from ecli.errors import RuntimeLoadError
from ecli.kernel.types import MAP_PERF_EVENT_ARRAY, MAP_RINGBUF
from ecli.runtime import libbpf
from ecli.runtime.spec import GlobalSpec, MapSpec

SampleHandler = Callable[[bytes], None]
PERF_BUFFER_PAGES = 64  # per CPU


class EventStreams:
    def __init__(self, name: str) -> None:
        self.name = name
        self.lib = libbpf.get()
        self._ring: int | None = None
        self._perf: list[int] = []
        self._callbacks: list[object] = []  # ctypes callbacks must outlive the buffers
        self._failure: BaseException | None = None
        self._perf_lost: dict[str, int] = {}
        self._epoll = select.epoll()

    def add(self, event_map: MapSpec, fd: int, handler: SampleHandler) -> None:
        if event_map.type == MAP_RINGBUF:
            self._add_ring(event_map.name, fd, handler)
        elif event_map.type == MAP_PERF_EVENT_ARRAY:
            self._add_perf(event_map.name, fd, handler)

    def _add_ring(self, map_name: str, fd: int, handler: SampleHandler) -> None:
        def sample(_ctx: int, data: int, size: int) -> int:
            try:
                handler(ctypes.string_at(data, size))
            except BaseException as exc:
                self._failure = exc
                return -errnos.ECANCELED
            return 0

        callback = libbpf.SAMPLE_FN(sample)
        self._callbacks.append(callback)
        if self._ring is None:
            self._ring = self.lib.ring_buffer__new(fd, callback, None, None)
            if not self._ring:
                raise RuntimeLoadError(f"{self.name}: cannot open ring buffer {map_name}: "
                                       f"{libbpf.strerror(libbpf.last_errno())}")
            self._epoll.register(self.lib.ring_buffer__epoll_fd(self._ring), select.EPOLLIN)
        elif self.lib.ring_buffer__add(self._ring, fd, callback, None) < 0:
            raise RuntimeLoadError(f"{self.name}: cannot open ring buffer {map_name}")

    def _add_perf(self, map_name: str, fd: int, handler: SampleHandler) -> None:
        self._perf_lost[map_name] = 0

        def sample(_ctx: int, _cpu: int, data: int, size: int) -> None:
            if self._failure is not None:
                return
            try:
                handler(ctypes.string_at(data, size))
            except BaseException as exc:
                self._failure = exc

        def lost(_ctx: int, _cpu: int, count: int) -> None:
            self._perf_lost[map_name] += count

        callbacks = (libbpf.PERF_SAMPLE_FN(sample), libbpf.PERF_LOST_FN(lost))
        self._callbacks.extend(callbacks)
        buffer = self.lib.perf_buffer__new(fd, PERF_BUFFER_PAGES, *callbacks, None, None)
        if not buffer:
            raise RuntimeLoadError(f"{self.name}: cannot open perf buffer {map_name}: "
                                   f"{libbpf.strerror(libbpf.last_errno())}")
        self._perf.append(buffer)
        self._epoll.register(self.lib.perf_buffer__epoll_fd(buffer), select.EPOLLIN)

    @property
    def empty(self) -> bool:
        return self._ring is None and not self._perf

    def poll(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for samples and hand them to the handlers."""
        try:
            ready = self._epoll.poll(timeout)
        except InterruptedError:
            return
        if ready:
            self.drain()

    def drain(self) -> None:
        if self._ring is not None:
            result = self.lib.ring_buffer__consume(self._ring)
            self._raise_failure()
            if result < 0 and -result != errnos.EINTR:
                raise RuntimeLoadError(f"{self.name}: reading the ring buffer failed: "
                                       f"{libbpf.strerror(-result)}")
        for buffer in self._perf:
            self.lib.perf_buffer__consume(buffer)
            self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def lost(self, read_global: Callable[[GlobalSpec], bytes],
             counters: dict[str, GlobalSpec]) -> dict[str, int]:
        """Events lost per map so far: perf buffers' reports and ring buffers' counters."""
        lost = dict(self._perf_lost)
        for map_name, counter in counters.items():
            lost[map_name] = int.from_bytes(read_global(counter), "little")
        return lost

    def close(self) -> None:
        if self._ring is not None:
            self.lib.ring_buffer__free(self._ring)
            self._ring = None
        for buffer in self._perf:
            self.lib.perf_buffer__free(buffer)
        self._perf.clear()
        self._epoll.close()
