"""Present decoded fields the way people read them: errno names, addresses, durations.

The package config names a format per event field (`[output.fields]` in
ecli.toml); values that do not fit the format are left as they are.
"""

from __future__ import annotations

import errno
import signal
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ecli.runtime.decode import Batch, Columns, StructDecoder

if TYPE_CHECKING:
    from ecli.runtime.filters import FilteredDecoder


def _errno(value: Any) -> Any:
    if isinstance(value, int) and value < 0 and -value in errno.errorcode:
        return f"-{errno.errorcode[-value]}"
    return value


def _ipv4(value: Any) -> Any:
    if isinstance(value, int) and 0 <= value < 1 << 32:  # __be32 read as little-endian u32
        return ".".join(map(str, value.to_bytes(4, "little")))
    return value


def _ipv6(value: Any) -> Any:
    import socket  # here: the module costs more to import than most runs spend on IPv6

    raw = None
    if isinstance(value, str) and len(value) == 32:  # u8[16], shown as hex
        raw = bytes.fromhex(value)
    elif isinstance(value, list) and len(value) == 4:  # __be32[4]
        raw = b"".join(int(v).to_bytes(4, "little") for v in value)
    return socket.inet_ntop(socket.AF_INET6, raw) if raw else value


def _hex(value: Any) -> Any:
    return hex(value) if isinstance(value, int) else value


def _duration_ns(value: Any) -> Any:
    if not isinstance(value, int):
        return value
    for unit, scale in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if abs(value) >= scale:
            return f"{value / scale:.3f}{unit}"
    return f"{value}ns"


def _signal(value: Any) -> Any:
    try:
        return signal.Signals(value).name
    except (ValueError, TypeError):
        return value


FORMATTERS: dict[str, Callable[[Any], Any]] = {
    "errno": _errno, "ipv4": _ipv4, "ipv6": _ipv6, "hex": _hex,
    "duration_ns": _duration_ns, "signal": _signal,
}


class FormattedDecoder:
    """A decoder whose named columns go through their formatters."""

    def __init__(self, decoder: StructDecoder | FilteredDecoder,
                 hints: Mapping[str, str]) -> None:
        self.decoder = decoder
        self.columns = decoder.columns
        self.widths = decoder.widths
        self._apply = [(i, FORMATTERS[hints[c]]) for i, c in enumerate(decoder.columns)
                       if hints.get(c) in FORMATTERS]
        formatted = {i for i, _ in self._apply}
        self.types = [None if i in formatted else t for i, t in enumerate(decoder.types)]

    def decode(self, data: bytes | memoryview) -> list[Any] | None:
        values = self.decoder.decode(data)
        if values is None:  # a --filter dropped it
            return None
        for i, formatter in self._apply:
            values[i] = formatter(values[i])
        return values

    def decode_batch(self, batch: Batch) -> Columns:
        columns = self.decoder.decode_batch(batch)
        for i, formatter in self._apply:
            columns[i] = list(map(formatter, columns[i]))
        return columns
