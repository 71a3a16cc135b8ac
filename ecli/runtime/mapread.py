"""Read a map's entries out of the kernel as raw bytes, in bounded memory.

Hash and array maps (and their per-CPU and LRU kinds) are read in batches of
`BATCH` entries with `bpf_map_lookup_batch` (one syscall a batch); other kinds,
and kernels without batch lookups, one key at a time. Either way the reader
yields entries as it goes and stops after `limit` of them, so the caller can
keep only the largest few of a map with millions of entries. Decoding is the
caller's (`maps`).
"""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Iterator

from ecli.kernel.types import MAP_TYPE_VALUES
from ecli.runtime import libbpf

PERCPU_TYPES = frozenset(MAP_TYPE_VALUES[name] for name in (
    "percpu_hash", "percpu_array", "lru_percpu_hash", "percpu_cgroup_storage"))
BATCH_TYPES = frozenset(MAP_TYPE_VALUES[name] for name in (
    "hash", "array", "percpu_hash", "percpu_array", "lru_hash", "lru_percpu_hash"))
BATCH = 4096
MAX_ENTRIES_READ = 1 << 20
ENOTSUPP = 524  # the kernel's internal "not supported", which some map kinds return
_NO_BATCH = (errno.EINVAL, errno.EOPNOTSUPP, ENOTSUPP, errno.ENOSYS)


class EntryReader:
    """Iterates (key bytes, value bytes) of one map; per-CPU values hold every CPU's copy,
    each `stride` bytes apart. After iterating, `read` says how many entries were read,
    `truncated` whether some were left unread (more than `limit`), and `error` why the
    map could not be read, if so. `batched=False` reads key by key even where the kernel
    has batch lookups: the path of older kernels, so tests can compare the two here."""

    def __init__(self, fd: int, map_type: int, key_size: int, value_size: int,
                 limit: int = MAX_ENTRIES_READ, *, batched: bool = True) -> None:
        self.fd = fd
        self.batched = batched and map_type in BATCH_TYPES
        self.map_type = map_type
        self.key_size = key_size
        self.value_size = value_size
        self.limit = limit
        self.cpus = libbpf.get().libbpf_num_possible_cpus() if map_type in PERCPU_TYPES else 1
        self.stride = (value_size + 7) & ~7 if map_type in PERCPU_TYPES else value_size
        self.read = 0
        self.truncated = False
        self.error = ""

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        if self.batched:
            yield from self._batches()
        else:
            yield from self._one_by_one()

    def _batches(self) -> Iterator[tuple[bytes, bytes]]:
        lib = libbpf.get()
        key_size, value_bytes = self.key_size, self.stride * self.cpus
        keys = ctypes.create_string_buffer(key_size * BATCH)
        values = ctypes.create_string_buffer(value_bytes * BATCH)
        token = [ctypes.create_string_buffer(max(key_size, 8)) for _ in range(2)]
        first = True
        while True:
            count = ctypes.c_uint32(BATCH)
            rc = lib.bpf_map_lookup_batch(self.fd, None if first else token[0], token[1],
                                          keys, values, ctypes.byref(count), None)
            failure = libbpf.last_errno(rc) if rc else 0
            if failure and failure != errno.ENOENT:
                if first and failure in _NO_BATCH:  # an older kernel: key by key
                    yield from self._one_by_one()
                else:
                    self.error = _reason(failure)
                return
            first = False
            key_data, value_data = keys.raw, values.raw
            for i in range(count.value):
                if self.read == self.limit:
                    self.truncated = True
                    return
                self.read += 1
                yield (key_data[i * key_size : (i + 1) * key_size],
                       value_data[i * value_bytes : (i + 1) * value_bytes])
            if failure == errno.ENOENT:  # that was the last batch
                return
            ctypes.memmove(token[0], token[1], len(token[1]))

    def _one_by_one(self) -> Iterator[tuple[bytes, bytes]]:
        lib = libbpf.get()
        key = ctypes.create_string_buffer(max(self.key_size, 1))
        next_key = ctypes.create_string_buffer(max(self.key_size, 1))
        value = ctypes.create_string_buffer(max(self.stride * self.cpus, 1))
        previous = None
        while True:
            if lib.bpf_map_get_next_key(self.fd, previous, next_key) != 0:
                failure = libbpf.last_errno()
                if failure != errno.ENOENT:
                    self.error = _reason(failure)
                return
            if self.read == self.limit:
                self.truncated = True
                return
            ctypes.memmove(key, next_key, self.key_size)
            previous = key
            if lib.bpf_map_lookup_elem(self.fd, key, value) != 0:
                failure = libbpf.last_errno()
                if failure == errno.ENOENT:
                    continue  # deleted between the two calls
                self.error = _reason(failure)
                return
            self.read += 1
            yield key.raw[: self.key_size], value.raw


def _reason(failure: int) -> str:
    if failure in (errno.EOPNOTSUPP, ENOTSUPP, errno.EINVAL):
        return "the kernel cannot list this kind of map"
    return libbpf.strerror(failure)
