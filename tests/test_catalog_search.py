"""Search quality: what people type finds the package they mean, in the first three results
of `ecli search`, against the index the generator builds from this repository's index/.

The versions are pinned in a lock written here (search reads only the entries' text);
the generated api/v1 is served over HTTP and added as a source, as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from generator import lock

from bpf_objects import ROOT
from ecli_process import run_ecli
from index_fixtures import serve

DIGEST = "sha256:" + "cd" * 32

# (what a user types, the package they mean): names, common misspellings, the words for it.
QUERIES = [
    ("biolatency", "biolatency"), ("biolatancy", "biolatency"), ("disk latency", "biolatency"),
    ("biosnoop", "biosnoop"), ("biosnop", "biosnoop"), ("block io trace", "biosnoop"),
    ("biopattern", "biopattern"), ("sequential random io", "biopattern"),
    ("syscount", "syscount"), ("syscall count", "syscount"), ("strace", "syscount"),
    ("exitsnoop", "exitsnoop"), ("exitsnope", "exitsnoop"), ("process exit code", "exitsnoop"),
    ("killsnoop", "killsnoop"), ("who killed my process", "killsnoop"),
    ("sigsnoop", "sigsnoop"), ("signals", "sigsnoop"), ("sigkill", "sigsnoop"),
    ("threadsnoop", "threadsnoop"), ("pthread", "threadsnoop"), ("new threads", "threadsnoop"),
    ("mountsnoop", "mountsnoop"), ("mount", "mountsnoop"),
    ("tcpconnect", "tcpconnect"), ("tcpconect", "tcpconnect"), ("tcp connections", "tcpconnect"),
    ("tcpconnlat", "tcpconnect"), ("outbound connections", "tcpconnect"),
    ("tcpaccept", "tcpaccept"), ("tcpacept", "tcpaccept"),
    ("incoming tcp connections", "tcpaccept"),
    ("tcptop", "tcptop"), ("tcp throughput", "tcptop"), ("bandwidth by process", "tcptop"),
    ("tcplife", "tcplife"), ("tcp connection lifespan", "tcplife"),
    ("tcpretrans", "tcpretrans"), ("tcp retransmits", "tcpretrans"), ("packet loss", "tcpretrans"),
    ("bindsnoop", "bindsnoop"), ("which process binds a port", "bindsnoop"),
    ("cpudist", "cpudist"), ("on-cpu time histogram", "cpudist"),
    ("offcputime", "offcputime"), ("offcpu", "offcputime"),
    ("why is my process blocked", "offcputime"),
    ("capable", "capable"), ("capabilities", "capable"),
    ("oomkill", "oomkill"), ("oom killer", "oomkill"), ("out of memory", "oomkill"),
    ("pagefaults", "pagefaults"), ("page faults", "pagefaults"),
    ("softirqs", "softirqs"), ("softirq", "softirqs"),
    ("hardirqs", "hardirqs"), ("hardware interrupts", "hardirqs"),
    ("filelife", "filelife"), ("short-lived files", "filelife"), ("temporary files", "filelife"),
    ("vfsstat", "vfsstat"), ("file system operations", "vfsstat"),
    ("sslsniff", "sslsniff"), ("sslsnif", "sslsniff"), ("ssl plaintext", "sslsniff"),
    ("decrypt https traffic", "sslsniff"),
    ("gethostlatency", "gethostlatency"), ("dns", "gethostlatency"),
    ("dns queries", "gethostlatency"), ("slow dns lookups", "gethostlatency"),
    ("portstat", "portstat"), ("traffic per port", "portstat"),
    ("memleak", "memleak"), ("memory leak", "memleak"), ("malloc", "memleak"),
    ("opensnoop", "opensnoop"), ("opensnop", "opensnoop"), ("which files are opened", "opensnoop"),
    ("execsnoop", "execsnoop"), ("commands executed", "execsnoop"),
    ("runqslower", "runqslower"), ("cpu starvation", "runqslower"),
    ("runqlat", "runqlat"), ("scheduler latency", "runqlat"),
    ("profile", "profile"), ("cpu profiler", "profile"),
    ("funclatency", "funclatency"), ("funclatancy", "funclatency"),
    ("func latency", "funclatency"), ("function latency", "funclatency"),
    ("how long does a function take", "funclatency"), ("uprobe latency", "funclatency"),
    ("fsslower", "fsslower"), ("fslower", "fsslower"), ("ext4slower", "fsslower"),
    ("xfsslower", "fsslower"), ("slow file reads", "fsslower"), ("slow fsync", "fsslower"),
    ("file system latency", "fsslower"),
]


def pinned_lock(index: Path, path: Path) -> None:
    """Every version of every entry pinned to one made-up digest: search needs no artifact."""
    pins = {}
    for file in sorted((index / "packages").glob("*.yaml")):
        versions = yaml.safe_load(file.read_text())["versions"]
        pins[file.stem] = {v["version"]: lock.Locked(v["ref"], DIGEST, "2026-12-01T00:00:00Z")
                           for v in versions}
    lock.write(path, pins)


def build_catalog_site(work: Path) -> Path:
    """The site of this repository's index/, every version pinned (tests of the site's
    search use it too); returns the site's folder."""
    index = work / "index"
    shutil.copytree(ROOT / "index", index, ignore=shutil.ignore_patterns("lock.json"))
    pinned_lock(index, work / "lock.json")
    built = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--index", str(index), "--offline",
         "--no-cache", "--lock", str(work / "lock.json"), "--out", str(work / "site"),
         "--config", str(ROOT / "mkdocs.yml")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    return work / "site"


@pytest.fixture(scope="module")
def searching(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("search")
    with serve(build_catalog_site(work)) as (base, _seen):
        env = {**os.environ, "ECLI_HOME": str(work / "user"), "ECLI_DEFAULT_SOURCE": ""}
        assert run_ecli("sources", "add", "hub", base + "api/v1/", env=env).returncode == 0
        assert run_ecli("update", env=env).returncode == 0
        yield env


def test_what_people_type_finds_the_package_in_the_first_three(searching):
    missed = []
    for query, expected in QUERIES:
        result = run_ecli("search", query, "--json", env=searching)
        names = [hit["name"] for hit in json.loads(result.stdout or "[]")]
        if expected not in names[:3]:
            missed.append(f"{query!r}: {names[:5]}")
    assert not missed, "\n".join(missed)


def test_every_catalog_entry_is_found_by_its_own_name_first(searching):
    for file in sorted((ROOT / "index" / "packages").glob("*.yaml")):
        result = run_ecli("search", file.stem, "--json", env=searching)
        assert json.loads(result.stdout)[0]["name"] == file.stem


def test_a_word_nothing_holds_finds_nothing(searching):
    result = run_ecli("search", "zebrafish", "--json", env=searching)
    assert json.loads(result.stdout) == []
