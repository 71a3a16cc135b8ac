"""ecli's built-in runtime on the real kernel: load, attach, real events, clean exit."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from bpf_objects import ROOT
from ecli_process import (
    RunningEcli,
    bpf_program_ids,
    ecli_command,
    links_of,
    programs_left,
    run_ecli,
    touch_unique,
)

pytestmark = pytest.mark.root
BPF_TESTS = ROOT / "tests" / "bpf"


def test_opensnoop_reports_a_file_this_test_opens(objects, tmp_path):
    run = RunningEcli([str(objects["opensnoop"]), "--json", "--duration", "4"])
    run.wait_attached()
    opened = touch_unique(tmp_path, "open")
    out, err, code = run.finish()
    assert code == 0, err
    events = run.json_events(out)
    mine = [e for e in events if e["fname"] == str(opened)]
    assert mine, f"no event for {opened} among {len(events)} events"
    assert mine[0]["pid"] == os.getpid()
    assert mine[0]["ret"] >= 0
    assert mine[0]["comm"]
    assert len(run.program_ids) == 2
    assert programs_left(run.program_ids) == set()


def test_pid_and_failed_filters(objects, tmp_path):
    run = RunningEcli([str(objects["opensnoop"]), "--json", "--duration", "4",
                       "--targ-pid", str(os.getpid()), "--targ-failed"])
    run.wait_attached()
    touch_unique(tmp_path, "ok")  # succeeds: filtered out by --targ-failed
    missing = tmp_path / "does-not-exist" / "file"
    with pytest.raises(FileNotFoundError), open(missing):
        pass
    subprocess.run(["cat", str(missing)], capture_output=True)  # another pid: filtered out
    out, err, code = run.finish()
    assert code == 0, err
    events = run.json_events(out)
    assert [e["fname"] for e in events] == [str(missing)]
    assert events[0]["pid"] == os.getpid()
    assert events[0]["ret"] == -2  # ENOENT


def test_table_output_has_a_header_and_the_event(objects, tmp_path):
    run = RunningEcli([str(objects["opensnoop"]), "--duration", "3",
                       "--targ-pid", str(os.getpid())])
    run.wait_attached()
    opened = touch_unique(tmp_path, "table")
    out, err, code = run.finish()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "UID", "RET", "FLAGS", "COMM", "FNAME"]
    assert any(line.split()[0] == str(os.getpid()) and line.endswith(str(opened))
               for line in lines[1:])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_detach_everything(objects, signum):
    run = RunningEcli([str(objects["opensnoop"]), "--json"])
    run.wait_attached()
    assert run.program_ids <= bpf_program_ids(), "the programs are loaded while running"
    assert len(links_of(run.program_ids)) == 2, "and attached"
    run.process.send_signal(signum)
    _out, err, code = run.finish()
    assert code == 0, err
    assert "detached" in err
    assert programs_left(run.program_ids) == set()
    assert links_of(run.program_ids) == set()


def test_kill_9_leaves_nothing_loaded(objects):
    run = RunningEcli([str(objects["opensnoop"])])
    run.wait_attached()
    run.process.kill()
    run.process.wait(timeout=10)
    assert programs_left(run.program_ids) == set()
    assert links_of(run.program_ids) == set()


def test_every_field_type_decodes(objects):
    run = RunningEcli([str(objects["types"]), "--json", "--duration", "3",
                       "--opt-color", "TC_BLUE", "--opt-name", "xy", "--no-opt-flag",
                       "--opt-u8", "200", "--opt-s32", "-7"])
    run.wait_attached()
    os.getpid()  # the libc caches nothing here: getpid is a real syscall
    subprocess.run(["python3", "-c", "import os; os.getpid()"], check=True)
    out, err, code = run.finish()
    assert code == 0, err
    event = run.json_events(out)[0]
    assert event == {
        "u8v": 200, "s16v": -2, "u32v": 4000000000, "s64v": -7, "flag": False,
        "color": "TC_BLUE", "name": "xy", "list": [1, 0, 3], "raw": "ab000000",
        "inner.a": 513, "inner.b": -1, "wide": 1 << 100,
    }


@pytest.mark.parametrize(("args", "message"), [  # every rule: tests/test_runtime_units.py
    (["--opt-u8", "256"], "--opt-u8: 256 is out of range [0, 255]"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_bad_option_values_are_one_line_errors(objects, args, message):
    result = run_ecli("run", str(objects["types"]), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("ecli: error:")


def test_help_lists_the_objects_options(objects):
    result = run_ecli("run", str(objects["types"]), "-h")
    assert result.returncode == 0
    for flag in ("--opt-u8 N", "--opt-flag, --no-opt-flag", "{TC_BLUE,TC_GREEN,TC_RED}",
                 "--opt-name TEXT"):
        assert flag in result.stdout
    assert "(default: 7)" in result.stdout


def test_verifier_rejection_shows_the_log(objects):
    result = run_ecli("run", str(objects["broken_verifier"]), "--duration", "1")
    assert result.returncode == 1
    assert "verifier rejected" in result.stderr
    assert "invalid mem access 'map_value_or_null'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_long_verifier_log_shows_its_real_last_lines(objects):
    """libbpf prints the whole log as one message: it was cut at 4 KiB, before the reason."""
    result = run_ecli("run", str(objects["long_verifier_log"]), "--duration", "1")
    assert result.returncode == 1
    last = result.stderr.splitlines()[-3:]  # the reason, then libbpf's summary
    assert any(re.fullmatch(r"R\d+ invalid mem access 'scalar'", line) for line in last), last
    assert any(re.match(r"processed \d{4} insns", line) for line in last), last


def test_missing_kernel_feature_is_named(objects):
    result = run_ecli("run", str(objects["kprobe_only"]), "--duration", "1")
    assert result.returncode == 1
    assert "this kernel has no kprobe support (CONFIG_KPROBES" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_privileges_names_the_missing_capability(objects):
    shared = Path(tempfile.mkdtemp(prefix="ecli-unpriv-"))
    try:
        shared.chmod(0o755)
        obj = shutil.copy(objects["opensnoop"], shared / "opensnoop.bpf.o")
        env = {**os.environ, "ECLI_HOME": str(shared / "home")}
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all",
             *ecli_command(
                 "run", str(obj), "--duration", "1")],
            capture_output=True, text=True, env=env, timeout=60)
    finally:
        shutil.rmtree(shared)
    assert result.returncode == 1, result.stderr
    assert "CAP_BPF" in result.stderr and "CAP_PERFMON" in result.stderr
    assert "Traceback" not in result.stderr


def test_not_an_elf_object(tmp_path):
    bogus = tmp_path / "bogus.bpf.o"
    bogus.write_bytes(b"\x7fELF" + b"\0" * 10)
    result = run_ecli("run", str(bogus))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == f"ecli: error: {bogus}: not an ELF file"


def test_unsupported_map_type_is_named(objects):
    result = run_ecli("run", str(objects["future_map"]), "--duration", "1")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "ecli: error: future_map: this kernel does not support map type 99 "
        "(map 'from_the_future')")


def test_a_kernel_without_btf_is_named_before_loading(objects, monkeypatch, tmp_path):
    from ecli.errors import KernelFeatureError
    from ecli.kernel import system
    from ecli.runtime import loader
    from ecli.runtime.spec import ObjectSpec

    spec = ObjectSpec.from_file(objects["opensnoop"])
    assert spec.uses_core  # it reads tracepoint fields through CO-RE relocations
    monkeypatch.setattr(system, "VMLINUX_BTF", tmp_path / "no-such-btf")
    with pytest.raises(KernelFeatureError, match="this kernel has no BTF"), \
            loader.LoadedObject(spec, {}, "opensnoop"):
        pass
