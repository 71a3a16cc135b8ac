"""The example catalog on the real kernel: each tool, a real trigger, a real assertion.

Together these exercise every attach type ecli supports here: tracepoints,
raw tracepoints, uretprobes (with --pid), USDT, XDP and tc on a veth pair in
network namespaces made by the test, and cgroup hooks on a cgroup made by
the test.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ecli.kernel.system import cgroup2_root

from bpf_objects import ROOT
from ecli_process import RunningEcli, ecli_command, programs_left, run_ecli

pytestmark = pytest.mark.root
EXAMPLES = ROOT / "examples"


def finish_json(run: RunningEcli) -> list[dict]:
    out, err, code = run.finish()
    assert code == 0, err
    assert programs_left(run.program_ids) == set()
    return [json.loads(line) for line in out.splitlines()]


def events_of(records: list[dict]) -> list[dict]:
    """The events among the records: every map's report comes too now, at exit."""
    return [r for r in records if set(r) != {"time", "final", "maps"}]


def final_map(records: list[dict], name: str) -> dict:
    report = next(r for r in records if r.get("final"))
    return next(m for m in report["maps"] if m["map"] == name)


def test_execsnoop_sees_an_exec_with_its_arguments(objects):
    marker = f"ecli-{uuid.uuid4().hex[:12]}"
    run = RunningEcli([str(objects["execsnoop"]), "--json", "--duration", "3"])
    run.wait_attached()
    child = subprocess.run(["/bin/sh", "-c", f"exec /bin/echo {marker} two"],
                           capture_output=True, text=True)
    assert child.stdout.strip() == f"{marker} two"
    events = events_of(finish_json(run))
    mine = [e for e in events if e["args"].startswith("/bin/echo") and marker in e["args"]]
    assert [e["args"] for e in mine] == [f"/bin/echo {marker} two"]
    assert mine[0]["comm"] == "echo" and mine[0]["ret"] == 0 and mine[0]["args_count"] == 3


def test_execsnoop_failed_filter(objects):
    marker = f"/nonexistent-{uuid.uuid4().hex[:12]}"
    run = RunningEcli([str(objects["execsnoop"]), "--json", "--duration", "3",
                       "--targ-failed"])
    run.wait_attached()
    subprocess.run(["/bin/true"])
    with pytest.raises(FileNotFoundError):
        subprocess.run([marker])
    events = events_of(finish_json(run))
    assert all(e["ret"] < 0 for e in events)
    assert any(e["args"] == marker and e["ret"] == -2 for e in events)


def test_runqlat_histogram_every_interval(objects):
    run = RunningEcli([str(objects["runqlat"]), "--json", "--duration", "3.5",
                       "--interval", "1"])
    run.wait_attached()
    for _ in range(50):
        time.sleep(0.005)  # each sleep ends in a wake-up and a trip through the run queue
    records = finish_json(run)
    reports = [r for r in records if "maps" in r]
    assert [r["final"] for r in reports] == [False, False, False, True]
    hist = final_map(records, "runq_latency")
    assert hist["type"] == "log2_histogram"
    assert sum(b["count"] for b in hist["buckets"]) >= 50


def test_bashreadline_uretprobe_on_one_shell(objects):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv("/bin/bash", ["bash", "--norc", "--noprofile", "-i"])
    try:
        run = RunningEcli([str(objects["bashreadline"]), "--json", "--duration", "4",
                           "--pid", str(pid)])
        run.wait_attached()
        # bash is already inside readline(), entered before the probe existed: a
        # uretprobe sees only calls made after it is attached. Finish that call first.
        os.write(fd, b"true\n")
        _drain(fd, b"")
        marker = f"echo ecli-{uuid.uuid4().hex[:12]}"
        os.write(fd, marker.encode() + b"\n")
        _drain(fd, marker.split()[1].encode())
        events = events_of(finish_json(run))
    finally:
        os.write(fd, b"exit\n")
        _drain(fd, b"")
        os.waitpid(pid, 0)
    assert marker in [e["line"] for e in events]
    assert {(e["pid"], e["comm"]) for e in events} == {(pid, "bash")}


def _drain(fd: int, until: bytes, timeout: float = 5) -> None:
    """Read the pty until `until` shows twice (echo, then output) or it goes quiet."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            return
        try:
            seen += os.read(fd, 4096)
        except OSError:
            return
        if until and seen.count(until) >= 2:
            return


def test_usdt_probe_counts_python_collections(objects):
    run = RunningEcli([str(objects["usdt_python"]), "--json", "--duration", "3"])
    run.wait_attached()
    child = subprocess.run(["/usr/bin/python3.11", "-c",
                            "import gc, os; [gc.collect() for _ in range(5)]; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    records = finish_json(run)
    counts = {e["key"]["key"]: e["value"]["value"]
              for e in final_map(records, "counter_collections")["entries"]}
    assert counts[int(child.stdout)] >= 5


def send_udp(namespace: str, count: int, payload: int = 100) -> None:
    code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"for _ in range({count}): s.sendto(b'x' * {payload}, ('192.0.2.1', 9))")
    subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", code], check=True)


def in_namespace(namespace: str, args: list[str]) -> RunningEcli:
    return RunningEcli(args, wrapper=["ip", "netns", "exec", namespace])


def test_xdpcount_counts_udp_packets_on_a_veth(objects, veth_pair):
    here, peer = veth_pair
    run = in_namespace(here, [str(objects["xdpcount"]), "--json", "--duration", "3",
                              "--ifname", "eclia"])
    run.wait_attached()
    send_udp(peer, 25)
    records = finish_json(run)
    counts = {e["key"]["proto"]: e["value"] for e in final_map(records, "packet_counts")["entries"]}
    assert counts["UDP"] == {"packets": 25, "bytes": 25 * (14 + 20 + 8 + 100)}


def test_xdp_on_a_busy_interface_is_a_clear_error(objects, veth_pair):
    here, _peer = veth_pair
    first = in_namespace(here, [str(objects["xdpcount"]), "--duration", "10",
                                "--ifname", "eclia"])
    first.wait_attached()
    try:
        second = subprocess.run(["ip", "netns", "exec", here, *ecli_command(
            "run", str(objects["xdpcount"]), "--ifname", "eclia", "--duration", "1")],
            capture_output=True, text=True, timeout=60)
    finally:
        first.process.terminate()
        first.finish()
    assert second.returncode == 1
    assert "interface eclia already has a program attached" in second.stderr


def test_tc_ingress_counts_packets(objects, veth_pair):
    here, peer = veth_pair
    run = in_namespace(here, [str(objects["tc_count"]), "--json", "--duration", "3",
                              "--ifname", "eclia"])
    run.wait_attached()
    send_udp(peer, 7)
    records = finish_json(run)
    ipv4 = socket.htons(0x0800)
    counts = {e["key"]["key"]: e["value"]["value"]
              for e in final_map(records, "counter_protocols")["entries"]}
    assert counts.get(ipv4, 0) >= 7


def test_cgroup_hook_counts_sockets_of_one_cgroup(objects):
    group = Path(cgroup2_root()) / f"ecli-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        run = RunningEcli([str(objects["cgroup_sock"]), "--json", "--duration", "3",
                           "--cgroup", str(group)])
        run.wait_attached()
        script = (f"echo $$ > {group}/cgroup.procs && exec {sys.executable} -c "
                  "'import socket; socket.socket(); socket.socket(); "
                  "socket.socket(socket.AF_INET6)'")
        subprocess.run(["/bin/sh", "-c", script], check=True)
        socket.socket().close()  # this process is not in the cgroup: not counted
        records = finish_json(run)
    finally:
        group.rmdir()
    counts = {e["key"]["key"]: e["value"]["value"]
              for e in final_map(records, "counter_families")["entries"]}
    assert counts == {socket.AF_INET: 2, socket.AF_INET6: 1}


def test_cgroup_v1_directory_is_refused(objects):
    result = run_ecli("run", str(objects["cgroup_sock"]), "--cgroup", "/proc", "--duration", "1")
    assert result.returncode == 2
    assert "is not a cgroup v2 directory" in result.stderr


def test_tcpstates_names_states_and_formats_addresses(registry, tmp_path):
    project = tmp_path / "tcpstates"
    shutil.copytree(EXAMPLES / "tcpstates", project)
    env = {**os.environ, "ECLI_HOME": str(tmp_path / "home")}
    ref = f"{registry.host}/examples/tcpstates:0.1.0"
    assert run_ecli("build", str(project), env=env).returncode == 0
    assert run_ecli("push", ref, "--dir", str(project), env=env).returncode == 0
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    run = RunningEcli([ref, "--json", "--duration", "3", "--sport", str(port)], env=env)
    run.wait_attached()
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    for sock in (client, accepted, listener):
        sock.close()
    events = events_of(finish_json(run))
    assert events, "no state change seen"
    assert {e["saddr"] for e in events} == {"127.0.0.1"}
    transitions = [(e["oldstate"], e["newstate"]) for e in events]
    assert ("ESTABLISHED", "CLOSE_WAIT") in transitions or (
        "ESTABLISHED", "FIN_WAIT1") in transitions
    assert all(e["sport"] == port for e in events)
    assert all(e["delta_ns"].endswith(("ns", "us", "ms", "s")) for e in events)


SPINNER = r"""
#include <time.h>
__attribute__((noinline)) void spin_for_ecli(double seconds) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do { clock_gettime(CLOCK_MONOTONIC, &now); }
    while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
}
int main(void) { for (;;) spin_for_ecli(0.1); }  /* until the test kills it */
"""


def test_profile_samples_and_symbolises_a_busy_process(objects, tmp_path):
    source = tmp_path / "spinner.c"
    source.write_text(SPINNER)
    binary = tmp_path / "spinner"
    subprocess.run(["cc", "-O1", "-fno-omit-frame-pointer", "-o", str(binary), str(source)],
                   check=True)
    spinner = subprocess.Popen([str(binary)])
    try:
        run = RunningEcli([str(objects["profile"]), "--json", "--duration", "2",
                           "--freq", "99", "--targ-pid", str(spinner.pid), "--top", "50"])
        run.wait_attached()
        records = finish_json(run)
    finally:  # alive until ecli has read its memory map: symbols need /proc/PID/maps
        spinner.kill()
        spinner.wait(timeout=30)
    stacks = final_map(records, "sample_counts")
    assert stacks["type"] == "stacks"
    mine = [e for e in stacks["entries"] if e["pid"] == spinner.pid]
    assert sum(e["count"] for e in mine) >= 20  # ~99 Hz for ~2 s, however it is split
    frames = [frame for e in mine for frame in e["user"]]
    assert "spin_for_ecli" in frames and "main" in frames
