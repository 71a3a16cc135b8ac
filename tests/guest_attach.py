"""Inside a guest kernel: run each attach-type test object with a real trigger, report each run.

The job of one boot (tests/test_attach_types.py starts it through generator/guest.py):
`python tests/guest_attach.py OBJECTS_DIR [PACKAGE_REFERENCE...]`. For each check, `ecli
run OBJECT --json` runs in the background until it has attached; a child process that names
itself `ecli-trig` (prctl) opens, unlinks or executes files in the guest's /tmp; then the
run is stopped with SIGINT; `ecli doctor --json` reports its BPF LSM and fentry lines.
One line per check goes to the console, marked MARK: the run's
exit status, its events of `ecli-trig`, its `calls` map at exit, what the trigger's system
calls returned, and which of its programs were still loaded afterwards. The host test
asserts on these records: nothing is judged here.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ecli_process import RunningEcli, bpf_program_ids, ecli_command, programs_left

MARK = "@@ecli-attach"
TRIGGER_COMM = b"ecli-trig"
PR_SET_NAME = 15
TMP = Path("/tmp")
ATTACH_SECONDS = 240  # Python under TCG: ecli takes tens of seconds to start and load


def as_trigger(action: Callable[[], None]) -> int:
    """Run `action` in a child named ecli-trig; its exit status is the errno it met, or 0."""
    child = os.fork()
    if child == 0:
        code = 0
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, TRIGGER_COMM, 0, 0, 0)
            action()
        except OSError as exc:
            code = exc.errno or 255
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])


def unlink_all(*names: str) -> Callable[[], None]:
    """Unlink each file in turn, whatever the previous one gave; the first errno is raised.
    Through unlinkat(2) (dir_fd: the kernel ignores it for an absolute path), the one
    unlink system call every architecture has."""
    def action() -> None:
        first: OSError | None = None
        folder = os.open(TMP, os.O_RDONLY | os.O_DIRECTORY)
        for name in names:
            try:
                os.unlink(TMP / name, dir_fd=folder)
            except OSError as exc:
                first = first or exc
        if first:
            raise first
    return action


def create(*names: str) -> None:
    for name in names:
        (TMP / name).write_text("")


def execute_trigger() -> None:
    os.execv(str(TMP / "ecli-trig"), [str(TMP / "ecli-trig")])


def run_check(name: str, target: str, action: Callable[[], None],
              before: Callable[[], None] = lambda: None) -> dict:
    """One `ecli run TARGET --json`, triggered once while attached, stopped with SIGINT."""
    before()
    started = time.monotonic()
    run = RunningEcli([target, "--json", "--yes", "--pull", "never", "--top", "256"])
    record: dict = {"check": name, "target": target}
    try:
        run.wait_attached(timeout=ATTACH_SECONDS)
    except AssertionError as exc:
        out, err, code = run.finish(timeout=60)
        return {**record, "error": str(exc)[:2000], "returncode": code, "stderr": err[-2000:],
                "loaded": sorted(programs_left(bpf_program_ids()))}  # the guest has no others
    record["attach_seconds"] = round(time.monotonic() - started, 1)
    record["trigger"] = as_trigger(action)
    time.sleep(1)  # the reader polls every 0.1 s; TCG is slow
    run.process.send_signal(signal.SIGINT)
    out, err, code = run.finish(timeout=120)
    maps = run.json_maps(out) if code == 0 else {}
    events = [e for e in run.json_events(out) if e.get("comm") == TRIGGER_COMM.decode()]
    return {**record, "returncode": code, "stderr": err[-2000:], "events": events,
            "calls": maps.get("calls", {}).get("entries", []),
            "left": sorted(programs_left(run.program_ids))}


def run_iterator(target: str) -> dict:
    """`ecli run` of an iterator object: it prints what the iterator wrote and exits."""
    process = subprocess.Popen(ecli_command("run", target, "--json", "--pull", "never"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=ATTACH_SECONDS)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    pid = str(process.pid)
    return {"check": "iter", "target": target, "returncode": process.returncode,
            "stderr": err[-2000:], "lines": len(lines), "ecli_pid": process.pid,
            "shown": [r for r in lines if r.get("line", "").split(" ")[0] in ("1", pid)]}


def report(record: dict) -> None:
    print(MARK, json.dumps(record), flush=True)


def main(objects: Path, packages: list[str]) -> None:
    shutil.copy("/bin/true", TMP / "ecli-trig")
    lsms = Path("/sys/kernel/security")
    if not (lsms / "lsm").exists():
        subprocess.run(["mount", "-t", "securityfs", "securityfs", str(lsms)], check=False)
    report({"check": "kernel", "release": os.uname().release,
            "lsm": (lsms / "lsm").read_text().strip() if (lsms / "lsm").exists() else ""})
    doctor = subprocess.run(ecli_command("doctor", "--json"), capture_output=True, text=True,
                            timeout=ATTACH_SECONDS)
    attach = json.loads(doctor.stdout)["system"]["attach"] if doctor.stdout else {}
    report({"check": "doctor", "returncode": doctor.returncode, "stderr": doctor.stderr[-2000:],
            "lsm": attach.get("lsm"), "fentry": attach.get("fentry")})
    report(run_check("kprobe", str(objects / "attach_kprobe.bpf.o"),
                     lambda: (TMP / "ecli-attach-kprobe").write_text("")))
    report(run_check("ksyscall", str(objects / "attach_ksyscall.bpf.o"),
                     unlink_all("ecli-attach-ksyscall"),
                     before=lambda: create("ecli-attach-ksyscall")))
    report(run_check("fentry", str(objects / "attach_fentry.bpf.o"),
                     unlink_all("ecli-attach-fentry", "ecli-attach-missing"),
                     before=lambda: create("ecli-attach-fentry")))
    report(run_check("tp_btf", str(objects / "attach_tp_btf.bpf.o"), execute_trigger))
    lsm = run_check("lsm", str(objects / "attach_lsm.bpf.o"),
                    unlink_all("ecli-lsm-keep", "ecli-lsm-other"),
                    before=lambda: create("ecli-lsm-keep", "ecli-lsm-other"))
    lsm["kept"] = (TMP / "ecli-lsm-keep").exists()
    lsm["after"] = as_trigger(unlink_all("ecli-lsm-keep"))  # detached: allowed again
    report(lsm)
    report(run_iterator(str(objects / "attach_iter.bpf.o")))
    for reference in packages:  # the fentry object as a pulled `bpf` package
        report(run_check("fentry-package", reference,
                         unlink_all("ecli-attach-fentry", "ecli-attach-missing"),
                         before=lambda: create("ecli-attach-fentry")))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
