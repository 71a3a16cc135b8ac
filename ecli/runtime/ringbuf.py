"""Read a BPF ring buffer from its mapped pages, a batch at a time, without libbpf.

libbpf's `ring_buffer__poll` calls back into Python once per sample, which
caps a Python reader far below what a busy kernel produces. The layout is
the kernel's ABI (kernel/bpf/ringbuf.c, libbpf's ringbuf.c does the same):

- page 0, mapped read-write: `consumer_pos` (u64), which only we write;
- page 1, read-only: `producer_pos` (u64), then the data area of `size`
  bytes (a power of two);
- each record: an 8-byte header (u32 length with the BUSY bit while the
  producer still writes it and the DISCARD bit if it was thrown away, u32
  page offset), the sample, padding to 8 bytes.

libbpf maps the data area twice in a row so that a sample never wraps; the
kernel populates the whole mapping at mmap time, so each copy counts fully
in the reader's RSS (2 x 16 MiB for a 16 MiB ring). Here it is mapped once,
and the rare sample that runs past the end is copied out in two pieces.

Ordering: the producer writes the sample, then clears BUSY (a release
store); we read `producer_pos`, then the header, then the sample, and only
then store `consumer_pos`. Plain loads and stores keep that order on x86-64
(TSO), the architecture this reader is built for; see `ordered_memory`.
"""

from __future__ import annotations

import mmap
import os
from typing import NamedTuple

BUSY = 1 << 31
DISCARD = 1 << 30
HEADER = 8
MAX_BATCH = 4096  # records per batch: bounds the memory of one decoded batch
TSO_MACHINES = ("x86_64", "amd64", "s390x")


class Samples(NamedTuple):
    """Samples that sit in one buffer: sample i is data[offsets[i] : offsets[i] + sizes[i]]."""

    data: memoryview | bytes
    offsets: list[int]
    sizes: list[int]


def ordered_memory() -> bool:
    """Whether plain loads and stores from Python are ordered as the ring buffer needs."""
    return os.uname().machine.lower() in TSO_MACHINES


def max_entries(fd: int) -> int:
    """The ring's data size as the kernel created it (/proc/self/fdinfo of the map)."""
    with open(f"/proc/self/fdinfo/{fd}") as info:
        for line in info:
            if line.startswith("max_entries:"):
                return int(line.split()[1])
    raise OSError(f"fd {fd} is not a BPF map")


class MappedBuffer:
    """What the mapped readers share: the read position we publish (`_position`, where
    `release` moves it to `_next`) and the mappings and views to let go of."""

    _position: memoryview
    _next: int
    _views: tuple[memoryview, ...]
    _maps: tuple[mmap.mmap, ...]

    def release(self) -> bool:
        """Give the records of the last `read` back to the kernel; whether there were any."""
        moved = self._next != self._position[0]
        self._position[0] = self._next
        return moved

    def close(self) -> None:
        for view in self._views:
            view.release()
        for mapping in self._maps:
            mapping.close()


class RingReader(MappedBuffer):
    """One ring buffer's pages; `read` returns the next batch, `release` hands it back."""

    def __init__(self, fd: int) -> None:
        page = mmap.PAGESIZE
        self.size = max_entries(fd)
        self._mask = self.size - 1
        self._consumer_page = mmap.mmap(fd, page, mmap.MAP_SHARED,
                                        mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        try:
            self._pages = mmap.mmap(fd, page + self.size, mmap.MAP_SHARED,
                                    mmap.PROT_READ, offset=page)
        except OSError:
            self._consumer_page.close()
            raise
        pages = memoryview(self._pages)
        self._consumer = self._position = memoryview(self._consumer_page).cast("Q")
        self._producer = pages[:8].cast("Q")
        self.data = pages[page:]
        self._words = self.data.cast("I")  # headers are 8-byte aligned
        self._views = (self._words, self.data, self._producer, pages, self._consumer)
        self._maps = (self._consumer_page, self._pages)
        self._next = self._consumer[0]

    def read(self) -> Samples:
        """Committed samples from the consumer position on (at most MAX_BATCH records).

        Discarded records are skipped; a record still BUSY ends the batch (the
        records after it wait for it, as in libbpf). Nothing is handed back to
        the kernel until `release`.
        """
        position = self._consumer[0]
        producer = self._producer[0]
        mask, size, words = self._mask, self.size, self._words
        offsets: list[int] = []
        sizes: list[int] = []
        records = 0
        while position < producer and records < MAX_BATCH:
            offset = position & mask
            length = words[offset >> 2]
            if length & BUSY:
                break
            if length & DISCARD:
                length &= ~DISCARD
            else:
                start = (offset + HEADER) & mask
                if start + length > size:  # runs past the end: a batch of its own, copied
                    if offsets:
                        break
                    self._next = position + ((length + HEADER + 7) & ~7)
                    return Samples(self._wrapped(start, length), [0], [length])
                offsets.append(start)
                sizes.append(length)
            records += 1
            position += (length + HEADER + 7) & ~7
        self._next = position
        return Samples(self.data, offsets, sizes)

    def _wrapped(self, start: int, length: int) -> bytes:
        """A sample that starts at `start` and continues at the start of the area."""
        return bytes(self.data[start:]) + bytes(self.data[: start + length - self.size])
