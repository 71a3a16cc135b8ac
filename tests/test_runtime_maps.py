"""Every map shown, decoded by BTF, and --filter, on the real kernel with real triggers.

The objects are ours, each in one ecosystem's style (tests/bpf/maps_*.bpf.c):
libbpf-tools' biopattern table (a hash of u32 -> struct counter, an LRU hash),
eunomia-bpf maps whose types are every kind BTF has, a per-CPU hash of execs,
bumblebee's print_/counter_ maps, an array of a million entries, and the map
kinds that are read key by key, cannot be listed, or are never shown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecli_process import PEAK_RSS_WRAPPER, RunningEcli, peak_rss_kib, programs_left, run_ecli
from pm_fixtures import bundle_layout

pytestmark = pytest.mark.root
OWN_COMM = Path("/proc/self/comm").read_text().strip()


def possible_cpus() -> int:
    """As libbpf counts them: /sys/devices/system/cpu/possible, e.g. `0-1`."""
    count = 0
    for part in Path("/sys/devices/system/cpu/possible").read_text().strip().split(","):
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """Some events keep 64 bytes of a file name: a short unique folder."""
    folder = Path(tempfile.mkdtemp(prefix="em"))
    yield folder
    shutil.rmtree(folder)


def finished(run: RunningEcli) -> tuple[str, str]:
    out, err, code = run.finish()
    assert code == 0, err
    assert programs_left(run.program_ids) == set()
    return out, err


def write_pattern(folder: Path) -> int:
    """Writes of 100, 100, 100 and 7 bytes to one new file; its descriptor."""
    fd = os.open(folder / "pattern", os.O_WRONLY | os.O_CREAT)
    for size in (100, 100, 100, 7):
        os.write(fd, b"x" * size)
    os.close(fd)
    return fd


def test_a_hash_of_structs_and_an_lru_hash_are_shown_decoded(objects, short_dir):
    run = RunningEcli([str(objects["maps_biopattern"]), "--json", "--duration", "3",
                       "--targ-pid", str(os.getpid())])
    run.wait_attached()
    fd = write_pattern(short_dir)
    out, _err = finished(run)
    shown = run.json_maps(out)
    assert set(shown) == {"counters", "last"}
    counters = shown["counters"]
    assert (counters["type"], counters["map_type"]) == ("table", "hash")
    assert {"key": {"key": fd}, "value": {"last_sector": 7, "bytes": 307, "sequential": 2,
                                          "random": 2}} in counters["entries"]
    assert counters["total"] == len(counters["entries"])
    last = shown["last"]
    assert last["map_type"] == "lru_hash"
    assert {"key": {"key": fd}, "value": {"size": 7, "comm": OWN_COMM}} in last["entries"]


def test_tables_print_struct_fields_as_columns_largest_first(objects, short_dir):
    run = RunningEcli([str(objects["maps_biopattern"]), "--duration", "3", "--top", "1",
                       "--targ-pid", str(os.getpid())])
    run.wait_attached()
    small = os.open(short_dir / "small-write", os.O_WRONLY | os.O_CREAT)
    fd = os.open(short_dir / "big-write", os.O_WRONLY | os.O_CREAT)
    os.write(small, b"y" * 30)
    os.write(fd, b"y" * 5000)  # the largest last_sector of all this process's writes
    os.close(fd)
    os.close(small)
    out, _err = finished(run)
    lines = out[out.index("\ncounters\n"):].splitlines()[2:5]
    assert lines[0].split() == ["KEY", "LAST_SECTOR", "BYTES", "SEQUENTIAL", "RANDOM"]
    assert lines[1].split()[:3] == [str(fd), "5000", "5000"]
    assert lines[2].startswith("... and ") and lines[2].endswith(" more")


def eunomia_getppid(objects, *args: str) -> tuple[str, RunningEcli]:
    """Runs the eunomia-style object while this process calls getppid once."""
    run = RunningEcli([str(objects["maps_eunomia"]), "--duration", "3",
                       "--targ-pid", str(os.getpid()), *args])
    run.wait_attached()
    os.getppid()
    out, _err = finished(run)
    return out, run


def test_every_kind_of_type_in_a_map_decodes(objects):
    out, run = eunomia_getppid(objects, "--json", "--maps", "procs")
    shown = run.json_maps(out)
    assert list(shown) == ["procs"]
    assert shown["procs"]["entries"] == [{
        "key": {"pid": os.getpid(), "kind": "PK_SHELL"},
        "value": {
            "calls": 1, "task.tgid": os.getpid(), "task.comm": OWN_COMM,
            "addr.v4": 0x0100007F, "addr.v6": "7f000001" + "00" * 12,  # a union: both
            "wide": (1 << 100) + 5, "level": 17, "flags": 5, "rest": 0xABCDEF,
            "delta": -3, "pkind": "PK_DAEMON",  # signed and enum bitfields
            "pairs": [{"a": 1, "b": 2}, {"a": 3, "b": 4}], "names": ["hi", "x"],
        }}]


def test_nested_values_print_as_compact_json_cells(objects):
    out, _run = eunomia_getppid(objects, "--maps", "procs")
    header, row = out[out.index("\nprocs\n"):].splitlines()[2:4]
    assert header.split()[:4] == ["PID", "KIND", "CALLS", "TASK.TGID"]
    assert row.split()[:2] == [str(os.getpid()), "PK_SHELL"]
    assert '[{"a":1,"b":2},{"a":3,"b":4}]  ["hi","x"]' in row


@pytest.fixture
def unique_true(short_dir: Path) -> Path:
    """A copy of true with a name no other process on the machine execs."""
    program = short_dir / f"et{os.getpid() % 10**8}"
    shutil.copy("/bin/true", program)
    return program


def test_per_cpu_values_are_summed(objects, unique_true):
    run = RunningEcli([str(objects["maps_eunomia"]), "--json", "--duration", "3",
                       "--maps", "execs"])
    run.wait_attached()
    for _ in range(3):
        subprocess.run([str(unique_true)], check=True)
    out, _err = finished(run)
    execs = run.json_maps(out)["execs"]
    assert execs["map_type"] == "percpu_hash"
    assert {"key": {"comm": unique_true.name}, "value": {"value": 3}} in execs["entries"]


def test_per_cpu_values_are_shown_per_cpu(objects, unique_true):
    run = RunningEcli([str(objects["maps_eunomia"]), "--json", "--duration", "3", "--per-cpu",
                       "--maps", "execs,exec_total", "--top", "1000"])
    run.wait_attached()
    for _ in range(3):
        subprocess.run([str(unique_true)], check=True)
    out, _err = finished(run)
    shown = run.json_maps(out)
    assert set(shown) == {"execs", "exec_total"}
    mine = next(e for e in shown["execs"]["entries"] if e["key"] == {"comm": unique_true.name})
    assert len(mine["per_cpu"]) == possible_cpus()
    assert sum(cpu["value"] for cpu in mine["per_cpu"]) == mine["value"]["value"] == 3
    (total,) = shown["exec_total"]["entries"]
    assert total["value"]["value"] == sum(cpu["value"] for cpu in total["per_cpu"]) >= 3


def test_per_cpu_text_has_a_row_per_cpu_and_their_sum(objects, unique_true):
    run = RunningEcli([str(objects["maps_eunomia"]), "--duration", "3", "--per-cpu",
                       "--maps", "exec_total"])
    run.wait_attached()
    subprocess.run([str(unique_true)], check=True)
    out, _err = finished(run)
    rows = [line.split() for line in out[out.index("\nexec_total\n"):].splitlines()[2:]
            if line.strip()]
    assert rows[0] == ["KEY", "CPU", "VALUE"]
    cpus = possible_cpus()
    assert [r[1] for r in rows[1:cpus + 2]] == [*map(str, range(cpus)), "all"]
    assert int(rows[cpus + 1][2]) == sum(int(r[2]) for r in rows[1:cpus + 1]) >= 1


def test_no_maps_hides_them(objects):
    out, run = eunomia_getppid(objects, "--json", "--no-maps", "--interval", "1")
    assert '"maps"' not in out  # not even an empty report every second
    out, run = eunomia_getppid(objects, "--json")
    assert set(run.json_maps(out)) == {"procs", "execs", "exec_total"}  # without: every one


def test_other_map_kinds_are_read_key_by_key_or_noted(objects):
    run = RunningEcli([str(objects["maps_kinds"]), "--json", "--duration", "3",
                       "--targ-pid", str(os.getpid())])
    run.wait_attached()
    os.getppid()
    out, _err = finished(run)
    shown = run.json_maps(out)
    # Never shown: the program array, the array of maps and the stack store.
    assert set(shown) == {"inner", "routes", "sized", "pending", "seen"}
    assert shown["routes"]["map_type"] == "lpm_trie"  # no batch lookups: key by key
    assert shown["routes"]["entries"] == [
        {"key": {"prefixlen": 24, "addr": 0x0002000A}, "value": {"value": 77}}]
    assert shown["sized"]["entries"] == [  # no BTF types: the bytes, in hex
        {"key": {"key": os.getpid().to_bytes(4, "little").hex()},
         "value": {"value": (77).to_bytes(8, "little").hex()}}]
    for name, kind in (("pending", "queue"), ("seen", "bloom_filter")):
        assert shown[name] == {"map": name, "type": "table", "map_type": kind, "total": 0,
                               "entries": [], "note": "the kernel cannot list this kind of map"}


def test_a_million_entries_print_the_top_rows_in_bounded_memory(objects):
    run = RunningEcli([str(objects["maps_big"]), "--json", "--duration", "2", "--top", "3",
                       "--targ-pid", str(os.getpid())], wrapper=PEAK_RSS_WRAPPER)
    run.wait_attached()
    os.getppid()  # fills the array: entry i holds i
    out, err, code = run.finish()
    assert code == 0, err
    big = run.json_maps(out)["big"]
    assert big["total"] == 1_000_000
    assert [e["key"]["key"] for e in big["entries"]] == [999_999, 999_998, 999_997]
    assert [e["value"]["value"] for e in big["entries"]] == [999_999, 999_998, 999_997]
    huge = run.json_maps(out)["huge"]
    assert (huge["total"], len(huge["entries"])) == (1 << 20, 3)
    assert huge["note"] == f"read the first {1 << 20} entries only: the map holds more"
    # Decoding the million entries into Python lists alone would take over 150 MB.
    assert peak_rss_kib(err) < 100 * 1024, f"peak RSS {peak_rss_kib(err)} KiB"
    assert programs_left(run.program_ids) == set()


# -- --filter on real events and map rows ---------------------------------------------


def open_files(folder: Path, *names: str) -> list[str]:
    paths = [folder / name for name in names]
    for path in paths:
        with open(path, "w"):
            pass
    return [str(p) for p in paths]


def filtered_run(objects, folder: Path, *filters: str) -> tuple[list[dict], dict, list[str]]:
    """Runs the bumblebee-style object with these filters, opens two files and runs cat
    on one (another process); the events and maps printed, the files' paths."""
    run = RunningEcli([str(objects["maps_bumblebee"]), "--json", "--duration", "3",
                       *(f"--filter={f}" for f in filters)])
    run.wait_attached()
    paths = open_files(folder, "a", "b")
    subprocess.run(["cat", paths[0]], check=True)
    out, _err = finished(run)
    return run.json_events(out), run.json_maps(out), paths


def test_filters_keep_only_matching_events_and_map_rows(objects, short_dir):
    events, shown, paths = filtered_run(objects, short_dir, f"pid=={os.getpid()}",
                                        f"fname~^{short_dir}/")
    assert [e["fname"] for e in events] == paths  # cat's open of a: another pid
    assert all(e["pid"] == os.getpid() and e["comm"] == OWN_COMM for e in events)
    openers = shown["counter_openers"]  # its key has a pid: the pid filter applies
    assert [e["key"] for e in openers["entries"]] == [{"pid": os.getpid(), "comm": OWN_COMM}]
    assert openers["total"] == 1 and openers["entries"][0]["value"]["value"] >= 2


def test_filters_compare_names_numbers_and_negations(objects, short_dir):
    events, _shown, paths = filtered_run(objects, short_dir, "comm==cat", "dfd<=-100",
                                         f"fname!~^{short_dir}/b$", "pid>1")
    assert paths[0] in [e["fname"] for e in events]  # cat opening a, from AT_FDCWD (-100)
    assert {e["comm"] for e in events} == {"cat"}
    assert paths[1] not in [e["fname"] for e in events]


def test_filters_that_match_nothing_drop_every_event(objects, short_dir):
    events, shown, _paths = filtered_run(objects, short_dir, f"pid=={os.getpid()}",
                                         f"comm!={OWN_COMM}")
    assert events == []
    assert shown["counter_openers"]["entries"] == []


@pytest.mark.parametrize(("args", "message"), [
    (["--filter", "nope==1"],
     "ecli: error: --filter 'nope==1': no field 'nope' (fields: events of print_opens: pid, "
     "dfd, comm, fname; map counter_openers: pid, comm, value)"),
    (["--filter", "pid<ten"], "ecli: error: --filter 'pid<ten': 'ten' is not a number"),
    (["--filter", "comm~(bash"], "ecli: error: --filter 'comm~(bash': bad regular expression: "
                                 "missing ), unterminated subpattern at position 0"),
    (["--filter", "pid"], "ecli: error: --filter 'pid': expected FIELD OP VALUE, OP one of "
                          "== != ~ !~ < > <= >= (e.g. comm==bash, pid>100)"),
    (["--maps", "print_opens"], "ecli: error: --maps: no map 'print_opens' to show in "
                                "maps_bumblebee.bpf.o (maps: counter_openers)"),
    (["--maps", "counter_openers", "--no-maps"],
     "ecli: error: --maps and --no-maps cannot be given together"),
])
def test_bad_filters_and_map_choices_are_one_line_errors(objects, args, message):
    result = run_ecli("run", str(objects["maps_bumblebee"]), "--duration", "1", *args)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message]  # refused before loading anything
    assert result.stdout == ""


def test_a_filter_given_after_the_target_adds_to_those_before(objects, short_dir):
    run = RunningEcli(["--filter", f"pid=={os.getpid()}", str(objects["maps_bumblebee"]),
                       "--json", "--duration", "3", "--no-maps", "--filter", "fname~/b$"])
    run.wait_attached()
    paths = open_files(short_dir, "a", "b")
    out, _err = finished(run)
    assert [e["fname"] for e in run.json_events(out)] == [paths[1]]
    assert '"maps"' not in out


@pytest.mark.parametrize("option", [["--filter", "pid==1"], ["--maps", "x"], ["--no-maps"],
                                    ["--per-cpu"]])
def test_a_bundle_refuses_the_map_and_filter_options(env, tmp_path, option):
    """A bundle prints its own output: ecli says so instead of ignoring the option."""
    layout = bundle_layout(tmp_path / "mine", "mine", "1.0.0").root
    ran = run_ecli("run", *option, str(layout), "x", env=env, stdin=subprocess.DEVNULL)
    assert ran.returncode == 2
    assert ran.stderr.splitlines()[-1] == (
        f"ecli: error: mine: {option[0]} applies to eBPF objects ecli runs itself, not to a "
        "package of kind 'bundle' (it prints its own output)")
    assert ran.stdout == ""  # the bundle did not run
