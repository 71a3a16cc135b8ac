"""Bundles obey `ecli run`'s options: --duration, forwarded signals, exit status,
and output options passed on only when the bundle's config declares them.

Each test builds a small real bundle (a shell script in a tar.gz layer of an OCI
layout) and runs it through the real `ecli` command, as a user runs a local build.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ecli.oci import artifact
from ecli.oci.config import PackageConfig
from ecli.oci.store import Store

from ecli_process import ecli_command, error_line, run_ecli
from pm_fixtures import bundle_tar, index_document, write_catalog


def make_bundle(folder: Path, script: str, run_options: tuple[str, ...] = ()) -> Path:
    """An OCI layout with one bundle whose entrypoint is `script` (sh); its layout path."""
    folder.mkdir(parents=True, exist_ok=True)
    tar = bundle_tar(folder / "bundle.tar.gz",
                     {"bin/tool": (b"#!/bin/sh\n" + script.encode(), 0o755)})
    store = Store(folder / "oci")
    config = PackageConfig(name="tool", version="1.0.0", kind="bundle",
                           entrypoint=("bin/tool",), run_options=run_options)
    artifact.create(store, config, [tar], tag="1.0.0")
    return folder / "oci"


# A bundle that runs until told to stop, saying which signal it got (short sleeps: a
# signal that lands while sh forks one cannot leave a long sleep holding stdout).
WAITER = """trap 'echo got TERM; exit 0' TERM
trap 'echo got INT; exit 5' INT
echo started
while :; do sleep 0.1; done
"""


def test_duration_stops_the_bundle_with_sigterm(tmp_path, env):
    layout = make_bundle(tmp_path / "b", WAITER)
    began = time.monotonic()
    ran = run_ecli("run", "--duration", "1", str(layout), env=env, timeout=30)
    elapsed = time.monotonic() - began
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["started", "got TERM"]
    assert elapsed < 10  # not the 30 s the bundle would have slept


def test_a_bundle_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path, env):
    layout = make_bundle(tmp_path / "b", "trap '' TERM\necho started\nsleep 30\n")
    began = time.monotonic()
    ran = run_ecli("run", "--duration", "0.5", str(layout), env=env, timeout=30)
    elapsed = time.monotonic() - began
    assert ran.returncode == 128 + signal.SIGKILL
    assert ran.stdout == "started\n"
    assert "tool did not stop within 5s of SIGTERM at the end of --duration; killed" \
        in ran.stderr
    assert 5 <= elapsed < 20


def test_the_bundles_exit_status_is_eclis(tmp_path, env):
    layout = make_bundle(tmp_path / "b", "echo \"args: $*\"\nexit 7\n")
    ran = run_ecli("run", str(layout), "a", "b c", env=env)
    assert ran.returncode == 7
    assert ran.stdout == "args: a b c\n"


def _start(layout: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(ecli_command("run", str(layout)), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    assert ready and proc.stdout.readline() == "started\n"
    return proc


def test_sigint_and_sigterm_to_ecli_reach_the_bundle(tmp_path, env):
    layout = make_bundle(tmp_path / "b", WAITER)
    for signum, said, status in ((signal.SIGINT, "got INT", 5), (signal.SIGTERM, "got TERM", 0)):
        proc = _start(layout, env)
        os.kill(proc.pid, signum)  # to ecli only: the bundle has its own process group
        out, err = proc.communicate(timeout=30)
        assert out == said + "\n", err
        assert proc.returncode == status
        assert "Traceback" not in err


def test_json_is_passed_on_when_the_bundle_declares_it(tmp_path, env):
    layout = make_bundle(tmp_path / "b", 'echo "{\\"args\\": \\"$*\\"}"\n',
                         run_options=("json", "interval"))
    ran = run_ecli("run", "--json", "--interval", "2", str(layout), "x", env=env)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"args": "--json --interval 2.0 x"}


def test_output_options_a_bundle_does_not_declare_are_refused(tmp_path, env):
    marker = tmp_path / "ran"
    layout = make_bundle(tmp_path / "b", f"touch {marker}\n", run_options=("json",))
    for option in (["--timestamp"], ["--top", "5"], ["--interval", "1"]):
        ran = run_ecli("run", *option, str(layout), env=env)
        assert ran.returncode == 2, ran.stderr
        assert error_line(ran) == (f"ecli: error: tool: this bundle does not understand "
                                   f"{option[0]} (its run_options: --json)")
    bare = make_bundle(tmp_path / "bare", f"touch {marker}\n")
    ran = run_ecli("run", "--json", str(bare), env=env)
    assert error_line(ran) == ("ecli: error: tool: this bundle does not understand --json "
                               "(its run_options: none)")
    assert not marker.exists()  # refused before anything ran


def test_options_after_the_target_are_the_bundles_own(tmp_path, env):
    layout = make_bundle(tmp_path / "b", 'echo "$*"\n')
    ran = run_ecli("run", str(layout), "--json", "--duration", "3", env=env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "--json --duration 3\n"


def test_unknown_run_options_in_a_config_are_refused():
    from ecli.errors import ArtifactError

    with pytest.raises(ArtifactError) as failed:
        PackageConfig.from_dict({"name": "tool", "version": "1", "kind": "bundle",
                                 "entrypoint": ["bin/tool"], "run_options": ["json", "color"]},
                                "config")
    assert failed.value.message == ("config: run_options: unknown option 'color' (known: "
                                    "json, timestamp, interval, top)")


def test_build_writes_run_options_into_the_config(tmp_path):
    from ecli.develop.build import load_project

    (tmp_path / "ecli.toml").write_text(
        '[package]\nname = "tool"\nversion = "1.0.0"\nkind = "bundle"\n'
        'entrypoint = ["bin/tool"]\nrun_options = ["json", "top"]\n[build]\nlanguage = "c"\n')
    assert load_project(tmp_path).config.run_options == ("json", "top")


def test_event_header_does_not_apply_to_a_bundle(tmp_path, env):
    marker = tmp_path / "ran"
    layout = make_bundle(tmp_path / "b", f"touch {marker}\n", run_options=("json",))
    ran = run_ecli("run", "--event-header", "x.h", str(layout), env=env)
    assert ran.returncode == 2
    assert error_line(ran) == ("ecli: error: tool: --event-header applies to eBPF objects "
                               "ecli runs itself, not to a bundle")
    assert not marker.exists()


def test_run_options_are_refused_for_an_image(tmp_path, env):
    """An image runs in the container engine: ecli cannot apply its output options or
    --duration to it, and says so before the engine is even looked for."""
    folder = write_catalog(tmp_path / "api", [index_document(
        "boxed", "127.0.0.1:9/pm/boxed", [("1.0.0", "sha256:" + "cd" * 32, None)],
        kind="image")])
    assert run_ecli("sources", "add", "test", str(folder), env=env).returncode == 0
    for option in (["--json"], ["--duration", "2"], ["--top", "3"]):
        ran = run_ecli("run", *option, "boxed", env=env)
        assert ran.returncode == 2
        assert error_line(ran) == (f"ecli: error: boxed: {option[0]} applies to eBPF objects "
                                   "ecli runs itself, not to an image's container")
