"""Time from `ecli init` to the first event, per template, cold and warm caches; sizes.

cold: empty Go module/build caches, an empty CARGO_HOME, Maven repository and
npm cache (everything downloaded and compiled); warm: the same caches again, in
a fresh project folder. The
first event is an open() of a unique file, seen in the tool's output; the tool
is the one `ecli build` packed, run from its unpacked artifact as root.

    sudo python bench/templates.py [TEMPLATE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

TEMPLATES = ["bpf", "c-libbpf", "go-cilium", "rust-libbpf", "python", "java", "typescript",
             "eunomia"]
# What a self-contained Java runtime for the java template would add (jdeps: JNA needs
# java.base and java.logging; java.desktop only for its AWT helpers, unused here).
JLINK = ["jlink", "--add-modules", "java.base,java.logging", "--strip-debug",
         "--no-header-files", "--no-man-pages", "--compress=2"]


def ecli(*args: str, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-m", "ecli", *args, "--json"], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ecli {args[0]} failed: {done.stderr}")
    return json.loads(done.stdout)


def first_event(command: list[str], cwd: Path) -> None:
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr and process.stdout
        while "attached" not in (line := process.stderr.readline()):
            if not line:
                raise SystemExit(f"{command} exited before attaching")
        os.set_blocking(process.stdout.fileno(), False)
        seen = ""
        for _ in range(100):
            probe = Path(tempfile.gettempdir()) / f"bench-{os.getpid()}-{time.monotonic_ns()}"
            probe.touch()
            probe.unlink()
            time.sleep(0.05)
            seen += process.stdout.read() or ""
            if probe.name in seen:
                return
        raise SystemExit(f"{command}: no event")
    finally:
        process.terminate()
        process.wait(timeout=10)


def one(template: str, work: Path, env: dict[str, str]) -> tuple[float, dict]:
    project = work / f"b-{template}"
    start = time.monotonic()
    ecli("init", str(project), "-t", template, env=env)
    built = ecli("build", str(project), env=env)
    host = Path(built["artifacts"][0])
    if host.name.endswith(".tar.gz"):
        unpacked = work / f"unpacked-{template}"
        with tarfile.open(host) as tar:
            tar.extractall(unpacked, filter="data")
        first_event([str(unpacked / "bin" / built["name"])], unpacked)
    else:
        first_event([sys.executable, "-m", "ecli", "run", str(host)], project)
    return time.monotonic() - start, built


def jlink_size(work: Path) -> str:
    """The size of a jlink runtime image, as an image folder and as a tar.gz layer."""
    image = work / "jre"
    subprocess.run([*JLINK, "--output", str(image)], check=True, capture_output=True)
    unpacked = sum(p.stat().st_size for p in image.rglob("*") if p.is_file())
    with tarfile.open(work / "jre.tar.gz", "w:gz") as tar:
        tar.add(image, arcname="jre")
    return (f"jlink runtime (java.base, java.logging): {unpacked / 2**20:.0f} MiB unpacked, "
            f"{(work / 'jre.tar.gz').stat().st_size / 2**20:.1f} MiB tar.gz")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("templates", nargs="*", metavar="TEMPLATE",
                        help=f"templates to time (default: all of {', '.join(TEMPLATES)})")
    chosen = parser.parse_args(argv).templates or TEMPLATES
    unknown = sorted(set(chosen) - set(TEMPLATES))
    if unknown:
        parser.error(f"unknown template(s) {', '.join(unknown)}; known: {', '.join(TEMPLATES)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-templates-") as tmp:
        caches = Path(tmp) / "caches"
        env = {**os.environ, "GOMODCACHE": str(caches / "gomod"),
               "GOCACHE": str(caches / "gocache"), "CARGO_HOME": str(caches / "cargo"),
               "GOFLAGS": "-modcacherw", "npm_config_cache": str(caches / "npm"),
               "MAVEN_OPTS": f"-Dmaven.repo.local={caches / 'm2'}"}
        for template in chosen:
            cold, built = one(template, Path(tempfile.mkdtemp(dir=tmp)), env)
            warm, _ = one(template, Path(tempfile.mkdtemp(dir=tmp)), env)
            sizes = ", ".join(f"{p.split('/')[-1] if i == 0 else 'arm64'} "
                              f"{Path(a).stat().st_size / 1024:.0f} KiB"
                              for i, (p, a) in enumerate(zip(built["platforms"],
                                                             built["artifacts"], strict=True)))
            rows.append((template, built["kind"], f"{cold:.1f}", f"{warm:.1f}", sizes))
    print("| template | kind | init → first event, cold (s) | warm (s) | artifact (layer) sizes |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if "java" in chosen:
        with tempfile.TemporaryDirectory(prefix="bench-jlink-") as tmp:
            print(f"\njava bundle + {jlink_size(Path(tmp))} (not packed: the host's JDK runs it)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
