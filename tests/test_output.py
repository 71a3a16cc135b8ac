"""What reaches the terminal: hostile text made inert, locate warnings, run state, errors.

Text from an index, a registry or an artifact is hostile. These tests put ESC
sequences, BEL, a lone CR, C1 controls and a bidi override into an index
entry, a layer title and a `WWW-Authenticate` realm, and read the bytes ecli
writes, through a pseudo-terminal (what a person's terminal receives) and
through a pipe.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecli.cli import progress
from ecli.cli.render import EventPrinter
from ecli.oci import artifact
from ecli.oci.config import PackageConfig
from ecli.oci.store import Store

from bpf_objects import OPENSNOOP, compile_objects
from ecli_process import RunningEcli, ecli_command, run_ecli
from index_fixtures import package, serving, write_index
from pm_fixtures import index_document, push_bundle, write_catalog

# An OSC that retitles the terminal, a CSI that clears it, a CR that overwrites the
# line, a bidi override, an 8-bit CSI and a C1 control (NEL).
EVIL = "\x1b]0;pwned\x07\x1b[2J\rfake\u202eevil\x9b31m\x85"
VISIBLE = "\\u202eevil"  # what the override turns into: seen, never acted on
ROOT = Path(__file__).resolve().parent.parent


def through_pty(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[str, int]:
    """Run `ecli ARGS` with a pseudo-terminal as stdin, stdout and stderr: what it receives."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become ecli
        try:
            os.execve(sys.executable, ecli_command(*args), env)
        finally:
            os._exit(127)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"ecli {args} did not end within {timeout}s")
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child is gone and the terminal closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return b"".join(chunks).decode("utf-8"), os.waitstatus_to_exitcode(status)


def through_pipe(args: list[str], env: dict[str, str]) -> tuple[str, int]:
    result = run_ecli(*args, env=env)
    return result.stdout + result.stderr, result.returncode


CHANNELS = {"pty": through_pty, "pipe": through_pipe}


def assert_inert(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text, text
    assert not re.search("\r(?!\n)", text), text  # a pty sends \r\n for \n; a lone CR overwrites
    assert not re.search("[\x80-\x9f]", text), text
    assert not re.search("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", text), text


# -- an index entry -------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_hub(registry, tmp_path_factory):
    """An index whose `evil` entry holds EVIL in every text field, and an installed
    package whose newer version (per the index) is named with EVIL."""
    tmp = tmp_path_factory.mktemp("hostile")
    evil = package("evil", f"ok {EVIL}", keywords=(f"k{EVIL}",))._replace(
        description=f"line one {EVIL}\nline two", homepage=f"https://x/{EVIL}",
        license=f"MIT{EVIL}", owners=(f"o{EVIL}",))
    folder = tmp / "api" / "v1"
    write_index(folder, [evil])
    repository = f"{registry.host}/pm/boxed"
    digest = push_bundle(registry.host, tmp, "boxed", "1.0.0")
    write_catalog(folder, [evil, index_document("boxed", repository,
                                                [("1.0.0", digest, None)])])
    env = {**os.environ, "ECLI_HOME": str(tmp / "home"), "ECLI_DEFAULT_SOURCE": ""}
    for args in (["sources", "add", "test", str(folder)], ["install", "boxed"]):
        assert run_ecli(*args, env=env).returncode == 0
    # now the index offers a newer `boxed` whose version string is hostile
    write_catalog(folder, [evil, index_document("boxed", repository, [
        (f"2.0.0{EVIL}", "sha256:" + "ef" * 32, None), ("1.0.0", digest, "superseded")])])
    assert run_ecli("update", env=env).returncode == 0
    return env


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("args", [["search"], ["info", "evil"], ["list"]],
                         ids=["search", "info", "list"])
def test_index_text_reaches_the_terminal_inert(hostile_hub, args, channel):
    text, code = CHANNELS[channel](args, hostile_hub)
    assert code == 0, text
    assert_inert(text)
    assert VISIBLE in text  # the hostile field was shown, as escapes
    assert "pwned" not in text  # the retitling sequence went whole


@pytest.mark.parametrize("args", [["search", "--json"], ["info", "evil", "--json"],
                                  ["list", "--json"]], ids=["search", "info", "list"])
def test_json_output_escapes_every_control_character(hostile_hub, args):
    text, code = through_pty(args, hostile_hub)
    assert code == 0, text
    assert_inert(text)
    document = json.loads(run_ecli(*args, env=hostile_hub).stdout)
    assert "\u202eevil" in json.dumps(document, ensure_ascii=False)  # the value, intact


# -- errors that quote a layer title or a realm --------------------------------------


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {**os.environ, "ECLI_HOME": str(tmp_path / "home"), "ECLI_DEFAULT_SOURCE": ""}


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_layer_title_in_an_error_is_inert(tmp_path, env, channel):
    obj = tmp_path / f"x{EVIL}.bpf.o"  # a layer is titled with its file's name
    obj.write_bytes(b"\x7fELF")
    store = Store(tmp_path / "oci")
    artifact.create(store, PackageConfig(name="titled", version="1.0.0", kind="bpf",
                                         object=obj.name), [obj], tag="1.0.0")
    layer = artifact.load(store, store.refs()[-1].digest).manifest.layers[0]
    store.blob_path(layer.digest).unlink()  # the error names the missing layer by title
    text, code = CHANNELS[channel](["inspect", str(store.root)], env)
    assert code == 1, text
    assert "ecli: error: " in text and f"layer x\\x0dfake{VISIBLE}" in text, text
    assert_inert(text)


class _Hostile401(http.server.BaseHTTPRequestHandler):
    """A registry that sends every client to a token service named by a hostile realm."""

    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Bearer realm="http://x/\x1b]0;pwned\x07"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_auth_realm_in_an_error_is_inert(env, channel):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile401)
    with serving(server) as url:
        host = url.removeprefix("http://")
        text, code = CHANNELS[channel](["pull", f"{host}/a/b:1"], env)
    assert code == 1, text
    assert "cannot get a token from http://x/" in text, text
    assert "pwned" not in text
    assert_inert(text)


# -- warnings from locating a package ---------------------------------------------------


@pytest.fixture(scope="module")
def yanked_hub(registry, tmp_path_factory):
    """`hi` 0.2.0 (yanked) and 0.1.0 as bundles, in a source searched after a dead one."""
    tmp = tmp_path_factory.mktemp("yanked")
    repository = f"{registry.host}/pm/hi"
    digests = {v: push_bundle(registry.host, tmp, "hi", v) for v in ("0.1.0", "0.2.0")}
    folder = write_catalog(tmp / "api" / "v1", [index_document("hi", repository, [
        ("0.2.0", digests["0.2.0"], "leaks memory"), ("0.1.0", digests["0.1.0"], None)])])
    return folder


@pytest.fixture
def hub_env(env, yanked_hub):
    assert run_ecli("sources", "add", "test", str(yanked_hub), env=env).returncode == 0
    return env


def yes(command: str) -> tuple[str, ...]:
    """`run` of a hub bundle asks before the publisher's program: these tests are not
    about that."""
    return ("--yes",) if command == "run" else ()


@pytest.mark.parametrize("command", ["run", "install"])
def test_a_yanked_version_is_a_warning_on_run_and_install(hub_env, command):
    result = run_ecli(command, *yes(command), "hi@0.2.0", env=hub_env)
    assert result.returncode == 0, result.stderr
    assert "ecli: warning: hi 0.2.0 is yanked (leaks memory)" in result.stderr
    if command == "run":
        assert "hello 0.2.0" in result.stdout  # and it ran


@pytest.mark.parametrize("command", ["run", "install"])
def test_a_skipped_source_is_a_warning_on_run_and_install(hub_env, command):
    # searched first (priority 1), and nothing answers there
    added = run_ecli("sources", "add", "dead", "http://127.0.0.1:9/api/v1/", "--priority", "1",
                     env=hub_env)
    assert added.returncode == 0, added.stderr
    result = run_ecli(command, *yes(command), "hi", env=hub_env)
    assert result.returncode == 0, result.stderr
    assert "ecli: warning: source dead skipped: " in result.stderr
    if command == "run":
        assert "hello 0.1.0" in result.stdout


# -- the run's state file ---------------------------------------------------------------


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    return compile_objects(tmp_path_factory.mktemp("objects"), OPENSNOOP)


@pytest.mark.root
def test_status_file_records_attach_and_exit(objects, env, tmp_path):
    state_file = tmp_path / "state.json"
    result = run_ecli("-q", "run", "--status-file", str(state_file), "--duration", "1",
                      str(objects["opensnoop"]), env=env)
    assert result.returncode == 0, result.stderr
    state = json.loads(state_file.read_bytes())
    assert state["state"] == "exited" and state["exit_status"] == 0
    assert state["name"] == "opensnoop" and state["error"] is None
    assert state["programs"] and all(p["id"] > 0 and p["section"] for p in state["programs"])
    assert result.stderr == ""  # -q: nothing in the log's wording was needed


@pytest.mark.root
def test_status_fd_gives_attached_then_exited(objects, env):
    run = RunningEcli([str(objects["opensnoop"]), "--duration", "1"], env=env)
    run.wait_attached()
    _, err, code = run.finish()
    assert code == 0, err
    assert [state["state"] for state in run.states] == ["attached", "exited"]
    assert run.states[-1]["exit_status"] == 0 and run.states[-1]["pid"] == run.process.pid
    assert {program["id"] for program in run.states[0]["programs"]} == run.program_ids


def test_status_file_records_a_failure_with_its_error(env, tmp_path):
    state_file = tmp_path / "state.json"
    result = run_ecli("run", "--status-file", str(state_file), str(tmp_path / "no.bpf.o"),
                      env=env)
    assert result.returncode == 1
    state = json.loads(state_file.read_bytes())
    assert state["state"] == "exited" and state["exit_status"] == 1 and not state["programs"]
    assert state["error"].endswith("no.bpf.o: no such file or folder"), state


# -- errors, colour, and where printing happens -----------------------------------------


def test_error_reference_shows_with_verbose_and_in_json(env, tmp_path):
    missing = str(tmp_path / "no.bpf.o")
    plain = run_ecli("inspect", missing, env=env)
    assert plain.returncode == 1 and "reference:" not in plain.stderr
    verbose = run_ecli("-v", "inspect", missing, env=env)
    assert verbose.stderr.splitlines()[-1] == "reference: not-found"
    as_json = run_ecli("inspect", missing, "--json", env=env)
    error = json.loads(as_json.stdout)["error"]
    assert error["reference"] == "not-found" and error["exit_code"] == 1
    assert error["message"].endswith("no such file or folder")


@pytest.mark.parametrize(("environment", "colour"), [
    ({}, True), ({"NO_COLOR": ""}, True), ({"NO_COLOR": "1"}, False),
    ({"TERM": "dumb"}, False)])
def test_use_color_is_no_color_org(monkeypatch, environment, colour):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    main, secondary = pty.openpty()
    with open(secondary, "w") as terminal:
        assert progress.use_color(terminal) is colour
    os.close(main)
    with open(os.devnull, "w") as not_a_terminal:
        assert progress.use_color(not_a_terminal) is False


def test_only_the_renderer_and_progress_modules_print():
    cli = ROOT / "ecli" / "cli"
    printing = {path.relative_to(cli).as_posix() for path in cli.rglob("*.py")
                if re.search(r"\bprint\(|sys\.std(out|err)\.write", path.read_text())}
    assert printing == {"render.py", "progress.py"}


def test_help_imports_no_renderer():
    shown = subprocess.run([sys.executable, "-X", "importtime", "-m", "ecli", "--help"],
                           capture_output=True, text=True, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in shown.stderr.splitlines()}
    assert "ecli.cli.main" in imported
    assert not {"ecli.cli.render", "ecli.cli.progress", "ecli.text"} & imported


def test_a_batch_of_json_lines_holds_exactly_the_values():
    """The per-batch template (`%d` for int columns, encoders for the others) writes what
    json would: quotes, control characters, non-ASCII, lists, floats, booleans."""
    columns = ["pid", 'say "%d"', "data", "mixed"]
    stream = io.StringIO()
    printer = EventPrinter(columns, [5, 5, 5, 5], [int, str, None, None], as_json=True,
                           timestamp=True, stream=stream)
    rows = [[1, 'a "quoted"\n\x1b[31m', [1, 2], 2.5], [-2, "é\u202e%s", None, True]]
    printer.write([list(column) for column in zip(*rows, strict=True)])
    lines = stream.getvalue().splitlines()
    assert all(line.isascii() for line in lines)
    decoded = [json.loads(line) for line in lines]
    assert [{k: v for k, v in d.items() if k != "time"} for d in decoded] == [
        dict(zip(columns, row, strict=True)) for row in rows]
    assert all(abs(d["time"] - time.time()) < 60 for d in decoded)


def test_a_batch_of_table_rows_is_aligned_and_inert():
    stream = io.StringIO()
    printer = EventPrinter(["pid", "comm"], [6, 0], [int, str], as_json=False,
                           timestamp=False, stream=stream)
    printer.write([[1, 22], ["bash", "evil\x1b]0;title\x07\rx"]])
    printer.write([[333], ["ok"]])
    assert stream.getvalue().splitlines() == [
        "PID    COMM", "1      bash", "22     evil\\x0dx", "333    ok"]
