"""`ecli inspect`, and the permissions `ecli run` shows (and asks about) before loading.

Real objects compiled by clang, loaded into the real kernel. The dangerous
program calls bpf_send_signal only when a .bss variable nothing writes holds
a value it never holds, so running it with --yes is safe.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ecli.oci import artifact
from ecli.oci.config import PackageConfig
from ecli.oci.store import Store

from ecli_process import RunningEcli, ecli_command, on_terminal, programs_left, run_ecli
from pm_fixtures import bundle_layout, bundle_tar, index_document, push_bundle, write_catalog

ROOT = Path(__file__).resolve().parent.parent
DANGEROUS = "send_signal_never"  # tests/bpf: an object calling a dangerous helper


def test_inspect_json_lists_programs_maps_helpers_and_the_danger(objects, env):
    result = run_ecli("inspect", "--json", str(objects[DANGEROUS]), env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (obj,) = report["objects"]
    assert obj["programs"] == [{"section": "tracepoint/syscalls/sys_enter_openat",
                                "type": "tracepoint", "attach": "syscalls:sys_enter_openat"}]
    assert obj["maps"] == [{"name": "events", "type": "ringbuf", "key_size": 0,
                            "value_size": 52, "max_entries": 65536}]
    assert "bpf_send_signal" in obj["helpers"] and obj["license"] == "GPL"
    assert obj["min_kernel"] == report["min_kernel"] == "5.8"
    levels = {p["id"]: p["level"] for p in report["permissions"]}
    assert levels == {"send-signal": "dangerous", "read-user-memory": "elevated",
                      "observe-kernel": "info"}
    assert report["permissions"][0]["id"] == "send-signal"  # most dangerous first


def test_inspect_text_shows_each_part(objects, env):
    result = run_ecli("inspect", str(objects["opensnoop"]), env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("tracepoint/syscalls/sys_enter_openat  tracepoint  syscalls:sys_enter_openat",
                     "start   hash     4    16     10240", "bpf_probe_read_user_str",
                     "minimum kernel: 5.8", "elevated  read-user-memory",
                     "info      observe-kernel"):
        assert expected in out


def test_inspect_bad_targets_are_one_line(tmp_path, env):
    not_elf = tmp_path / "x.bpf.o"
    not_elf.write_bytes(b"\x7fELF" + bytes(60))
    for target in (str(not_elf), str(tmp_path / "missing.bpf.o")):
        result = run_ecli("inspect", target, env=env)
        assert result.returncode != 0
        assert result.stderr.startswith("ecli: error: ") and "Traceback" not in result.stderr


def test_run_refuses_a_dangerous_object_without_a_terminal(objects, env):
    result = run_ecli("run", "--duration", "1", str(objects[DANGEROUS]), env=env,
                      stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert "  dangerous  send-signal       sends signals to processes" in result.stderr
    assert ("ecli: error: send_signal_never has dangerous permissions (send-signal); not run "
            "without a terminal to confirm") in lines
    assert lines[-1] == "hint: pass --yes to run it anyway"
    assert "attached" not in result.stderr and result.stdout == ""


def test_run_with_yes_attaches_and_sees_a_real_event(objects, env):
    run = RunningEcli(["--yes", "--json", str(objects[DANGEROUS])], env=env)
    run.wait_attached()
    folder = Path(tempfile.mkdtemp(prefix="ec"))  # short paths: the event keeps 48 bytes
    paths = []
    for i in range(5):
        paths.append(folder / f"f{i}")
        paths[-1].touch()
        time.sleep(0.1)
    time.sleep(0.3)
    run.process.terminate()
    out, err, code = run.finish()
    shutil.rmtree(folder)
    assert code == 0, err
    assert "dangerous  send-signal" in err
    seen = {event["fname"] for event in run.json_events(out)}
    assert {str(path) for path in paths} <= seen
    assert not programs_left(run.program_ids)


def test_on_a_terminal_the_user_is_asked(objects, env):
    argv = ecli_command("run", "--duration", "1", str(objects[DANGEROUS]))
    code, text = on_terminal(argv, b"n\n", env)
    assert code == 2 and "send-signal (dangerous). Run it? [y/N]" in text
    assert "not run (answered 'n')" in text and "attached" not in text
    code, text = on_terminal(argv, b"y\n", env)
    assert code == 0, text
    assert "1 program(s) attached" in text


def test_opensnoop_shows_its_permissions_and_runs_without_a_question(objects, env):
    result = run_ecli("run", "--duration", "0.5", str(objects["opensnoop"]), env=env,
                      stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "elevated   read-user-memory" in result.stderr
    assert "observe-kernel" not in result.stderr  # info: only with -v
    assert "Run it?" not in result.stderr
    verbose = run_ecli("-v", "run", "--duration", "0.5", str(objects["opensnoop"]), env=env)
    assert "info       observe-kernel" in verbose.stderr
    quiet = run_ecli("-q", "run", "--duration", "0.5", str(objects["opensnoop"]), env=env)
    assert quiet.returncode == 0 and "permissions" not in quiet.stderr


# -- bundles -------------------------------------------------------------------------


def _bundle_with_object(folder: Path, obj: Path) -> Store:
    folder.mkdir(parents=True, exist_ok=True)
    tar = bundle_tar(folder / "bundle.tar.gz", {
        "bin/tool": (b"#!/bin/sh\necho bundle-ran\n", 0o755),
        "lib/tool.bpf.o": (obj.read_bytes(), 0o644),
    })
    store = Store(folder / "oci")
    config = PackageConfig(name="sigtool", version="1.0.0", kind="bundle",
                           description="a bundle with a dangerous object",
                           entrypoint=("bin/tool",))
    artifact.create(store, config, [tar], tag="1.0.0")
    return store


def test_a_bundle_shows_its_objects_and_asks_too(objects, env, tmp_path):
    layout = _bundle_with_object(tmp_path / "bundle", objects[DANGEROUS]).root
    result = run_ecli("inspect", "--json", str(layout), env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["kind"] == "bundle"
    assert [o["object"] for o in report["objects"]] == ["lib/tool.bpf.o"]
    assert "user-space program cannot be inspected" in report["note"]
    assert report["permissions"][0]["id"] == "send-signal"
    refused = run_ecli("run", str(layout), env=env, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert "bundle-ran" not in refused.stdout
    ran = run_ecli("run", "--yes", str(layout), env=env, stdin=subprocess.DEVNULL)
    assert ran.returncode == 0, ran.stderr
    assert "bundle-ran" in ran.stdout and "dangerous  send-signal" in ran.stderr


def test_a_bundle_without_objects_uses_the_index_inspection(registry, env, tmp_path):
    from ecli.hubindex import model

    digest = push_bundle(registry.host, tmp_path, "opaque", "1.0.0")
    document = index_document("opaque", f"{registry.host}/pm/opaque",
                              [("1.0.0", digest, None)])
    danger = model.Inspection(permissions=(model.Permission(
        "write-user-memory", "dangerous", "writes into the memory of running processes"),))
    versions = tuple(v._replace(inspection=danger) for v in document.versions)
    folder = write_catalog(tmp_path / "api" / "v1", [document._replace(versions=versions)])
    assert run_ecli("sources", "add", "t", str(folder), env=env).returncode == 0
    result = run_ecli("inspect", "--json", "opaque", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["objects"] == [] and report["index_inspection"]["permissions"][0][
        "id"] == "write-user-memory"
    refused = run_ecli("run", "opaque", env=env, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2, refused.stderr
    assert ("opaque has dangerous permissions (run-publisher-code, write-user-memory)"
            in refused.stderr)


def test_a_local_bundle_runs_without_a_question_and_shows_its_program(env, tmp_path):
    """A folder the user built is theirs: the program is shown as elevated, not asked."""
    layout = bundle_layout(tmp_path / "mine", "mine", "1.0.0").root
    ran = run_ecli("run", str(layout), "x", env=env, stdin=subprocess.DEVNULL)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "hello 1.0.0 x"
    assert ("elevated   run-publisher-code  runs the publisher's program as root: it can do "
            "anything root can (a build on this machine)") in ran.stderr
    assert "Run it?" not in ran.stderr and "dangerous" not in ran.stderr
    shown = json.loads(run_ecli("inspect", "--json", str(layout), env=env).stdout)
    assert [(p["id"], p["level"]) for p in shown["permissions"]] == [
        ("run-publisher-code", "elevated")]
