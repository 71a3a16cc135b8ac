"""`ecli run -` (an object on stdin) and `ecli run http://...bpf.o`: the same checks as a
path (ELF, permissions line, policy), real events on the real kernel, and one line for
each bad input with nothing kept."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ecli_process import ecli_command, error_line, on_terminal, run_ecli, trace_own_open
from index_fixtures import serve
from net_servers import trickling_server


def downloads(env: dict[str, str]) -> list[str]:
    folder = Path(env["ECLI_HOME"]) / "cache" / "downloads"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.root
def test_an_object_on_stdin_runs_and_decodes_events(objects, env, short_dir):
    with open(objects["plain_ringbuf"], "rb") as piped:
        events, opened, err = trace_own_open(["-"], short_dir, env, stdin=piped)
    mine = [e for e in events if e.get("fname") == opened]
    assert len(mine) == 1 and mine[0]["pid"] == os.getpid()
    assert "ecli: stdin: permissions (`ecli inspect -` tells more):" in err
    assert [name.startswith("stdin-") for name in downloads(env)] == [True]


@pytest.mark.root
def test_an_object_from_a_url_runs_and_decodes_events(objects, env, short_dir, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(objects["plain_ringbuf"], served / "plain.bpf.o")
    with serve(served) as (url, seen):
        events, opened, err = trace_own_open([url + "plain.bpf.o"], short_dir, env)
    assert ("/plain.bpf.o", "200") in seen
    mine = [e for e in events if e.get("fname") == opened]
    assert len(mine) == 1 and mine[0]["pid"] == os.getpid()
    assert "ecli: plain: permissions" in err


def test_the_policy_cap_applies_to_stdin_as_to_a_path(objects, env):
    assert run_ecli("policy", "set", "max-permission", "info", env=env).returncode == 0
    for target, name in (("-", "stdin"), (str(objects["plain_ringbuf"]), "plain_ringbuf")):
        with open(objects["plain_ringbuf"], "rb") as piped:
            ran = run_ecli("run", target, env=env, stdin=piped)
        assert ran.returncode != 0
        assert "the policy allows at most info" in error_line(ran)
        assert error_line(ran).startswith(f"ecli: error: {name}: ")


def test_the_allow_list_applies_to_urls(env):
    assert run_ecli("policy", "allow", "ghcr.io/*", env=env).returncode == 0
    ran = run_ecli("run", "http://127.0.0.1:9/x.bpf.o", env=env)
    assert "http://127.0.0.1:9/x.bpf.o is not allowed by the policy" in error_line(ran)


# -- bad input: one line each, non-zero, nothing kept ------------------------------


def bad_stdin(env: dict[str, str], data: bytes) -> str:
    ran = subprocess.run(ecli_command("run", "-"), input=data, capture_output=True, env=env,
                         timeout=60)
    done = subprocess.CompletedProcess(ran.args, ran.returncode, ran.stdout.decode(),
                                       ran.stderr.decode())
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert downloads(env) == []
    return error_line(done)


@pytest.mark.parametrize(("data", "line"), [
    (b"", "ecli: error: stdin: empty: no eBPF object was piped in"),
    (b"#!/bin/sh\necho not an object\n", "ecli: error: stdin: not an ELF file"),
    (b"\x7fELF\x02\x01\x01" + b"\0" * 57, "ecli: error: stdin: ELF machine 0 is not eBPF (247)"),
    (b"\x7fELF" + b"\0" * ((64 << 20) + 1), "ecli: error: stdin: larger than 64 MiB"),
])
def test_bad_stdin(env, data, line):
    assert bad_stdin(env, data) == line


def test_a_terminal_on_stdin_is_refused(env):
    code, seen = on_terminal(ecli_command("run", "-"), b"", env)
    assert code == 2
    assert "ecli: error: stdin: a terminal, not an eBPF object" in seen


def bad_url(env: dict[str, str], url: str, **extra: str) -> str:
    ran = run_ecli("run", url, env={**env, **extra})
    assert ran.returncode != 0 and "Traceback" not in ran.stderr
    assert downloads(env) == []
    assert not any((Path(env["ECLI_HOME"]) / "cache" / "tmp").glob("download-*"))
    return error_line(ran)


def test_bad_urls(env, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "text.bpf.o").write_text("not an object\n")
    with open(served / "huge.bpf.o", "wb") as huge:  # sparse: costs no disk
        huge.truncate((64 << 20) + 1)
    with serve(served) as (url, _seen):
        assert bad_url(env, url + "missing.bpf.o") == \
            f"ecli: error: {url}missing.bpf.o: HTTP 404 File not found"
        assert bad_url(env, url + "text.bpf.o") == \
            f"ecli: error: {url}text.bpf.o: not an ELF file"
        assert bad_url(env, url + "huge.bpf.o") == \
            f"ecli: error: {url}huge.bpf.o: larger than 64 MiB"
    with trickling_server() as (slow, _asked):
        line = bad_url(env, slow + "/slow.bpf.o", ECLI_HTTP_TIMEOUT="1")
    host = slow.removeprefix("http://")
    assert line == f"ecli: error: {slow}/slow.bpf.o: no complete answer from {host} within 1 s"


def test_detach_cannot_read_stdin(env):
    ran = run_ecli("run", "--detach", "-", env=env, input="")
    assert ran.returncode == 2
    assert error_line(ran) == "ecli: error: --detach cannot read the object from stdin"
    assert downloads(env) == []
