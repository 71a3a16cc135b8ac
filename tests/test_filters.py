"""--filter's rules, one row each: what matches, what does not, and what is refused."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from ecli.errors import UsageError
from ecli.runtime.filters import FilteredDecoder, check_fields, parse, predicate

COLUMNS = ["pid", "comm", "ret", "state", "flag", "wide", "list"]
ROW = [42, "bash", -2, "TCP_LISTEN", True, 1 << 100, [1, 0, 3]]


@pytest.mark.parametrize(("text", "keeps"), [
    ("comm==bash", True), ("comm==bas", False), ("comm!=bash", False), ("comm!=zsh", True),
    ("comm~^ba", True), ("comm~sh$", True), ("comm~^sh", False), ("comm!~^z", True),
    ("pid==42", True), ("pid==0x2a", True), ("pid==42.0", True), ("pid!=42", False),
    ("pid>41", True), ("pid>42", False), ("pid>=42", True), ("pid<=41", False),
    ("pid<43", True), ("ret<0", True), ("ret>=-2", True), ("ret==-2", True),
    ("state==TCP_LISTEN", True), ("state~LISTEN", True), ("state<5", False),  # a name
    ("comm<5", False),  # text is never a number
    ("flag==true", True), ("flag==1", True), ("flag==false", False),
    (f"wide=={1 << 100}", True), (f"wide>{(1 << 100) - 1}", True),  # exact, not floats
    ("list==[1, 0, 3]", True), ("list~0", True),
    (" pid == 42 ", True),  # spaces around a number do not matter
    ("comm== bash", False),  # text is compared as written
])
def test_one_filter(text, keeps):
    keep = predicate([parse(text)], COLUMNS)
    assert keep is not None
    assert keep(ROW) is keeps


def test_several_filters_must_all_match():
    keep = predicate([parse("comm==bash"), parse("pid>40")], COLUMNS)
    assert keep(ROW) is True
    keep = predicate([parse("comm==bash"), parse("pid>50")], COLUMNS)
    assert keep(ROW) is False


def test_filters_on_other_columns_cost_nothing():
    assert predicate([parse("dport==80")], COLUMNS) is None
    assert predicate([], COLUMNS) is None


@pytest.mark.parametrize(("text", "message"), [
    ("pid", "--filter 'pid': expected FIELD OP VALUE"),
    ("==3", "--filter '==3': expected FIELD OP VALUE"),
    ("pid<x", "--filter 'pid<x': 'x' is not a number"),
    ("pid>=", "--filter 'pid>=': '' is not a number"),
    ("comm~[", "--filter 'comm~[': bad regular expression: unterminated character set"),
])
def test_bad_filters_are_usage_errors(text, message):
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert caught.value.message.startswith(message)
    assert "\n" not in caught.value.message


def test_an_unknown_field_lists_the_fields_there_are():
    with pytest.raises(UsageError) as caught:
        check_fields([parse("pid==1"), parse("dport==80")],
                     {"events of events": ["pid", "comm"], "map counts": ["key", "value"]})
    assert caught.value.message == ("--filter 'dport==80': no field 'dport' (fields: events of "
                                    "events: pid, comm; map counts: key, value)")
    check_fields([parse("value>3")], {"events of events": ["pid"], "map counts": ["value"]})


class _Columns:
    """A decoder of a u32 pid, then the comm."""

    columns: ClassVar[list[str]] = ["pid", "comm"]
    widths: ClassVar[list[int]] = [7, 16]
    types: ClassVar[list[type]] = [int, str]

    def decode(self, data: bytes) -> list:
        return [int.from_bytes(data[:4], "little"), data[4:].decode()]

    def decode_batch(self, batch: Any) -> list[list]:
        rows = [self.decode(bytes(batch.data[o:o + n]))
                for o, n in zip(batch.offsets, batch.sizes, strict=True)]
        return [[row[i] for row in rows] for i in range(2)]


def test_a_filtered_decoder_drops_events_before_formatting():
    decoder = FilteredDecoder(_Columns(), predicate([parse("comm==bash")], _Columns.columns))
    assert decoder.columns == ["pid", "comm"]
    assert decoder.decode((7).to_bytes(4, "little") + b"bash") == [7, "bash"]
    assert decoder.decode((7).to_bytes(4, "little") + b"zsh") is None
    # a batch (what the ring reader hands over) keeps only the rows that match
    samples = [(7, b"bash"), (8, b"zsh"), (9, b"bash")]
    data = b"".join(pid.to_bytes(4, "little") + comm for pid, comm in samples)
    offsets = [0, 8, 15]
    batch = SimpleNamespace(data=data, offsets=offsets, sizes=[8, 7, 8])
    assert decoder.decode_batch(batch) == [[7, 9], ["bash", "bash"]]
    none = SimpleNamespace(data=data[8:15], offsets=[0], sizes=[7])
    assert decoder.decode_batch(none) == [[], []]
