"""Kernel facts: the one release grammar and the type tables. No subprocess."""

from __future__ import annotations

import os

import pytest

from ecli.kernel import system, types


@pytest.mark.parametrize(("text", "parsed"), [
    ("6.18.44-fc-v595", (6, 18, 44)),
    ("5.8", (5, 8)),
    ("6.1.0-50-cloud-amd64", (6, 1, 0)),
    ("5.15.0rc1", (5, 15, 0)),
    ("4.19.0+", (4, 19, 0)),
    (" 6.6 ", (6, 6)),
    ("weird", ()),
    ("", ()),
])
def test_one_release_grammar(text, parsed):
    assert system.parse_release(text) == parsed


def test_release_comparisons():
    assert system.release_at_least("5.8", "6.1.0-50-cloud-amd64")
    assert system.release_at_least("6.6", "6.6")
    assert not system.release_at_least("6.10", "6.9.12")  # numbers, not text
    assert system.release_at_least("4.1", system.release())
    assert system.release() == os.uname().release


def test_type_tables_by_value():
    assert types.map_type_name(27) == "ringbuf"
    assert types.map_type_name(types.MAP_PERF_EVENT_ARRAY) == "perf_event_array"
    assert types.map_type_name(99) is None
    assert types.map_type_name(-1) is None
    assert types.prog_type_name(3) == "sched_cls"
    assert types.prog_type_name(32) == "netfilter"
    assert types.prog_type_release("tracing") == "5.5"
    assert types.map_type_release(types.MAP_RINGBUF) == "5.8"
    assert len(types.PROG_TYPE_VALUES) == len(types.PROG_TYPES)


def test_capabilities_and_cpus_of_this_process():
    assert system.holds("CAP_BPF") is True  # the tests run as root
    assert system.holds("CAP_NOT_A_THING") is None
    assert system.missing_capabilities() == []
    assert system.holds("CAP_BPF", caps=1 << system.CAP_SYS_ADMIN)  # admin implies it
    assert not system.holds("CAP_NET_ADMIN", caps=1 << system.CAP_SYS_ADMIN)
    assert len(system.online_cpus()) == os.cpu_count()
    assert system.cgroup2_mount() is not None
