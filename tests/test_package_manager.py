"""ecli as a package manager, against the real registry and real index folders.

install / list / upgrade / uninstall, version ranges and yanked versions,
bundles run end to end, pull policies, mirrors, save/load, concurrency and
kill -9, the default source, completion and --help of every command.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecli.cli.main import COMMANDS

from ecli_process import ecli_command, error_line, on_terminal, run_ecli
from index_fixtures import serve
from pm_fixtures import index_document, push_bundle, slow_proxy, write_catalog

BIG = os.urandom(1 << 20) * 3  # a 3 MiB payload, so a pull takes a moment


@pytest.fixture(scope="module")
def hub(registry, tmp_path_factory):
    """Four versions of `hello` (0.3.0 yanked) and a big `slow`, pushed and indexed."""
    tmp = tmp_path_factory.mktemp("pm")
    repository = f"{registry.host}/pm/hello"
    digests = {v: push_bundle(registry.host, tmp, "hello", v)
               for v in ("0.1.0", "0.2.0", "0.3.0", "1.0.0")}
    slow = push_bundle(registry.host, tmp, "slow", "1.0.0", BIG)
    documents = [
        index_document("hello", repository, [
            ("1.0.0", digests["1.0.0"], None),
            ("0.3.0", digests["0.3.0"], "eats files"),
            ("0.2.0", digests["0.2.0"], None),
            ("0.1.0", digests["0.1.0"], None),
        ]),
        index_document("slow", f"{registry.host}/pm/slow", [("1.0.0", slow, None)]),
        index_document("boxed", "127.0.0.1:9/pm/boxed",
                       [("1.0.0", "sha256:" + "cd" * 32, None)], kind="image"),
    ]
    folder = write_catalog(tmp / "api" / "v1", documents)
    return {"folder": folder, "digests": digests, "registry": registry, "tmp": tmp}


@pytest.fixture
def env(env, hub):
    """The shared environment with the test hub as its only source."""
    assert run_ecli("sources", "add", "test", str(hub["folder"]), env=env).returncode == 0
    return env


def ok(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = run_ecli(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def installed(env: dict[str, str]) -> dict[str, dict]:
    return {p["name"]: p for p in json.loads(ok("list", "--json", env=env).stdout)}


# -- install, list, upgrade, uninstall ---------------------------------------------


def test_install_run_list_upgrade_uninstall(env, hub):
    ok("install", "hello@^0.1", env=env)
    record = installed(env)["hello"]
    assert record["version"] == "0.1.0"
    assert record["digest"] == hub["digests"]["0.1.0"]
    assert record["source"] == "test" and record["kind"] == "bundle"
    assert record["requested"] == "^0.1"
    # the bare name runs the installed version, with the user's arguments
    ran = ok("run", "--yes", "hello", "a", "b c", env=env)
    assert ran.stdout.strip() == "hello 0.1.0 a b c"
    # ^0.1 admits no newer version: upgrade keeps it, and says what holds it back
    assert json.loads(ok("upgrade", "hello", "--json", env=env).stdout)[0]["note"] == (
        "stays at 0.1.0, as installed (hello@^0.1); 1.0.0 exists: ecli install hello@1.0.0")
    ok("install", "hello", env=env)  # reinstall without a range: newest that is not yanked
    assert installed(env)["hello"]["version"] == "1.0.0"
    ok("install", "hello@~0.2", env=env)
    assert installed(env)["hello"]["newer"] is None
    ok("install", "hello@0.1.0", env=env)
    ok("uninstall", "hello", env=env)
    assert installed(env) == {}
    gone = run_ecli("uninstall", "hello", env=env)
    assert gone.returncode == 1 and gone.stderr.startswith("ecli: error: hello is not installed")


def test_list_shows_newer_and_upgrade_all_moves(env, hub):
    ok("install", "hello@0.1.0", env=env)
    ok("install", "slow", env=env)
    # an exact pin stays; so `list` reports nothing newer for it
    assert installed(env)["hello"]["newer"] is None
    ok("install", "hello@<0.2", env=env)
    assert installed(env)["hello"]["newer"] is None
    ok("install", "hello@>=0.1", env=env)  # >=0.1 → 1.0.0 right away
    assert installed(env)["hello"]["version"] == "1.0.0"
    changes = json.loads(ok("upgrade", "--all", "--json", env=env).stdout)
    assert {c["name"] for c in changes} == {"hello", "slow"}
    table = ok("list", env=env).stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "VERSION", "KIND"]


def test_upgrades_are_seen_right_after_update(env, hub, tmp_path):
    """A new version published upstream shows in `list --outdated` after `ecli update`
    alone; an exact pin shows it too, marked, and `upgrade` says why it does not move."""
    host = hub["registry"].host
    pinned = {v: push_bundle(host, tmp_path, "pinned", v) for v in ("0.1.0", "0.2.0")}
    site = tmp_path / "site"

    published = [time.time()]

    def publish(*versions: str) -> None:
        write_catalog(site / "api" / "v1", [
            index_document("hello", f"{host}/pm/hello",
                           [(v, hub["digests"][v], None) for v in versions]),
            index_document("pinned", f"{host}/pm/pinned",
                           [(v, pinned[v], None) for v in versions])])
        # http.server's Last-Modified has whole seconds: date each publish's files 10 s
        # after the last one's, as real publishes are apart, or a 304 could hide them
        published.append(published[-1] + 10)
        for path in site.rglob("*.json"):
            os.utime(path, (published[-1], published[-1]))

    publish("0.1.0")
    with serve(site) as (base, _seen):
        ok("sources", "remove", "test", env=env)
        ok("sources", "add", "web", base + "api/v1/", env=env)
        ok("install", "hello", env=env)
        ok("install", "pinned@0.1.0", env=env)
        assert "everything is up to date" in ok("list", "--outdated", env=env).stdout
        nothing = ok("upgrade", "--all", env=env).stdout
        assert "checked 2 installed package(s) against web: nothing to upgrade" in nothing
        publish("0.2.0", "0.1.0")
        ok("update", env=env)
        listed = {p["name"]: p for p in json.loads(ok("list", "--outdated", "--json",
                                                      env=env).stdout)}
        assert (listed["hello"]["newer"], listed["hello"]["newest"]) == ("0.2.0", "0.2.0")
        assert listed["pinned"]["newer"] is None and listed["pinned"]["newest"] == "0.2.0"
        assert listed["pinned"]["pinned"] is True
        table = ok("list", "--outdated", env=env).stdout
        assert "0.2.0 (pinned to 0.1.0)" in table
        moved = ok("upgrade", "--all", env=env).stdout.splitlines()
        assert "hello: 0.1.0 -> 0.2.0" in moved
        assert ("pinned: stays at 0.1.0, as installed (pinned@0.1.0); 0.2.0 exists: "
                "ecli install pinned@0.2.0") in moved


def test_a_package_is_installed_under_its_index_name(env, hub, tmp_path):
    """An entry may name an artifact built under another name: the index's name counts."""
    folder = write_catalog(tmp_path / "api" / "v1", [index_document(
        "greeter", f"{hub['registry'].host}/pm/hello", [("0.1.0", hub["digests"]["0.1.0"],
                                                          None)])])
    ok("sources", "add", "other", str(folder), env=env)
    ok("install", "greeter", env=env)
    assert installed(env)["greeter"]["version"] == "0.1.0"
    assert "hello" not in installed(env)
    ok("uninstall", "greeter", env=env)


def test_caches_follow_their_source(env, hub, tmp_path):
    """A source's cached documents are its URL's: a changed URL, a remove and re-add, or
    --force fetch again; prune --all drops them; an unreachable source is named."""
    host, digests = hub["registry"].host, hub["digests"]
    sites = {}
    for name, versions in (("old", ["0.1.0"]), ("new", ["0.2.0", "0.1.0"])):
        sites[name] = write_catalog(tmp_path / name / "api" / "v1", [index_document(
            "hello", f"{host}/pm/hello", [(v, digests[v], None) for v in versions])])

    def versions() -> list[str]:
        return [v["version"] for v in json.loads(ok("info", "hello", "--json",
                                                     env=env).stdout)["versions"]]

    ok("sources", "remove", "test", env=env)
    with serve(tmp_path / "old") as (old, _), serve(tmp_path / "new") as (new, seen):
        ok("sources", "add", "web", old + "api/v1/", env=env)
        ok("update", env=env)
        assert versions() == ["0.1.0"]
        ok("sources", "add", "web", new + "api/v1/", env=env)  # the same name, another URL
        assert versions() == ["0.2.0", "0.1.0"]
        ok("sources", "remove", "web", env=env)
        ok("sources", "add", "web", old + "api/v1/", env=env)
        assert versions() == ["0.1.0"]
        ok("sources", "add", "web", new + "api/v1/", env=env)
        ok("update", env=env)
        seen.clear()
        ok("update", env=env)
        assert [path for path, _status in seen] == ["/api/v1/index.json"]  # unchanged: one
        seen.clear()
        ok("update", "--force", env=env)
        fetched = {path: status for path, status in seen}
        assert fetched["/api/v1/index.json"] == "200"
        assert fetched["/api/v1/catalog.json"] == "200"
        cache = Path(env["ECLI_HOME"]) / "cache" / "index"
        assert any(cache.iterdir())
        ok("cache", "prune", "--all", env=env)
        assert not cache.exists() or not any(cache.iterdir())
        assert versions() == ["0.2.0", "0.1.0"]  # fetched again on demand
    # the server is gone: named, in words, and update fails when no source answers
    ok("sources", "add", "down", "http://127.0.0.1:9/api/v1/", env=env)
    ok("sources", "remove", "web", env=env)
    failed = run_ecli("update", env=env)
    assert failed.returncode == 1
    assert "down: http://127.0.0.1:9/api/v1/index.json: cannot reach 127.0.0.1:9: " \
        "connection refused" in failed.stderr
    assert "Errno" not in failed.stderr
    search = run_ecli("search", "hello", env=env)
    assert search.returncode == 1
    assert error_line(search).startswith("ecli: error: source down: ")


def test_yanked_versions_are_never_chosen_unless_named(env, hub):
    ok("install", "hello@<1", env=env)  # 0.3.0 is yanked: 0.2.0
    assert installed(env)["hello"]["version"] == "0.2.0"
    named = ok("install", "hello@0.3.0", env=env)
    assert "warning: hello 0.3.0 is yanked (eats files)" in named.stderr
    assert installed(env)["hello"]["version"] == "0.3.0"
    only = run_ecli("install", "hello@~0.3", env=env)
    assert only.returncode == 1
    assert "only yanked versions match" in only.stderr
    by_digest = ok("install", f"hello@{hub['digests']['0.3.0']}", env=env)
    assert "is yanked" in by_digest.stderr


def test_concurrent_installs_give_one_good_install(env, hub):
    procs = [subprocess.Popen(ecli_command("install", "slow"), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    state = json.loads((Path(env["ECLI_HOME"]) / "state" / "installed.json").read_text())
    assert list(state["packages"]) == ["slow"]
    assert ok("run", "--yes", "slow", "x", env=env).stdout.strip() == "hello 1.0.0 x"
    tmp = Path(env["ECLI_HOME"]) / "cache" / "oci" / ".tmp"
    assert list(tmp.iterdir()) == []


def test_kill_9_during_pull_leaves_nothing_half_visible(env, hub):
    home = Path(env["ECLI_HOME"])
    blobs = home / "cache" / "oci" / "blobs" / "sha256"
    with slow_proxy(hub["registry"].host) as proxy:
        ok("mirrors", "add", hub["registry"].host, proxy, env=env)
        for delay in (0.9, 1.3, 1.8):
            proc = subprocess.Popen(ecli_command("install", "slow"), env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            assert proc.returncode == -signal.SIGKILL
            for blob in blobs.iterdir() if blobs.is_dir() else []:
                assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
            state = home / "state" / "installed.json"
            assert not state.exists() or "slow" not in json.loads(state.read_text())["packages"]
            bundles = home / "cache" / "bundles"
            for folder in bundles.glob("sha256-*") if bundles.is_dir() else []:
                assert (folder / "bin" / "hello").is_file()
        leftovers = list((home / "cache" / "oci" / ".tmp").iterdir())
        assert leftovers, "the kills should have interrupted a download"
        # the next command that takes the store's lock removes what the killed ones left
        ok("install", "slow", env=env)
    assert list((home / "cache" / "oci" / ".tmp").iterdir()) == []
    assert ok("run", "--yes", "slow", env=env).stdout.strip() == "hello 1.0.0"


def _wait_for(folder: Path, pattern: str, proc: subprocess.Popen, timeout: float = 30) -> Path:
    """The first entry of `folder` matching `pattern` that `proc` creates, polled closely."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(folder.glob(pattern)) if folder.is_dir() else []
        if found:
            return found[0]
        assert proc.poll() is None, "the command ended before it was caught at work"
        time.sleep(0.002)
    raise AssertionError(f"nothing like {pattern} appeared in {folder}")


def _sizes(folder: Path, pattern: str) -> list[int]:
    """Sizes of the entries matching `pattern` (one renamed away meanwhile is skipped)."""
    sizes = []
    for path in folder.glob(pattern) if folder.is_dir() else []:
        try:
            sizes.append(path.stat().st_size)
        except FileNotFoundError:
            continue
    return sizes


def test_a_live_pull_keeps_its_temporary_blob_while_another_command_sweeps(env, hub):
    """Only a dead writer's temporary files go: the pid in the name of a live one keeps it."""
    home = Path(env["ECLI_HOME"])
    with slow_proxy(hub["registry"].host) as proxy:
        ok("mirrors", "add", hub["registry"].host, proxy, env=env)
        slow = subprocess.Popen(ecli_command("install", "slow"), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        tmp = home / "cache" / "oci" / ".tmp"
        deadline = time.monotonic() + 30
        # the download lands in a staging store inside .tmp until its signature is checked
        while max(_sizes(tmp, f"**/blob~{slow.pid}~*"), default=0) <= 256 << 10:
            assert slow.poll() is None and time.monotonic() < deadline, "no big blob seen"
            time.sleep(0.005)
        ok("pull", "hello@0.2.0", env=env)  # takes the store's lock while `slow` downloads
        assert slow.poll() is None, "the sweep should have happened during the download"
        # had the sweep removed its temporary blob, the rename into place would fail
        _out, err = slow.communicate(timeout=60)
        assert slow.returncode == 0, err
    assert installed(env)["slow"]["version"] == "1.0.0"


def test_kill_9_during_bundle_extraction_is_cleaned_by_the_next_run(env, registry, tmp_path):
    """A bundle that unpacks to 256 MiB of zeros: killed mid-extraction, the half-written
    folder is gone after one ordinary run, which extracts it whole."""
    digest = push_bundle(registry.host, tmp_path, "wide", "1.0.0", bytes(256 << 20))
    folder = write_catalog(tmp_path / "wide-index", [
        index_document("wide", f"{registry.host}/pm/wide", [("1.0.0", digest, None)])])
    ok("sources", "add", "wide", str(folder), env=env)
    ok("pull", "wide", env=env)
    bundles = Path(env["ECLI_HOME"]) / "cache" / "bundles"
    proc = subprocess.Popen(ecli_command("run", "--yes", "wide"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    half = _wait_for(bundles, f".sha256-*~{proc.pid}~*", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL and half.is_dir()
    assert not list(bundles.glob("sha256-*"))  # nothing half-extracted is visible
    assert ok("run", "--yes", "wide", env=env).stdout.strip() == "hello 1.0.0"
    left = [entry.name for entry in bundles.iterdir()]
    assert len(left) == 1 and left[0].startswith("sha256-"), left


# -- pull policies, mirrors, offline, save/load ---------------------------------------


def test_pull_never_and_always(env, hub):
    never = run_ecli("run", "--yes", "--pull", "never", "hello@0.2.0", env=env)
    assert never.returncode == 1
    assert "not in the local store and --pull is never" in never.stderr
    ok("pull", "hello@0.2.0", env=env)
    ran = ok("run", "--yes", "--pull", "never", "hello@0.2.0", env=env)
    assert ran.stdout.startswith("hello 0.2.0")
    ran = ok("run", "--yes", "--pull", "always", "hello@0.2.0", env=env)
    assert ran.stdout.startswith("hello 0.2.0")


def test_mirrors_rewrite_pulls(env, hub, tmp_path):
    host = hub["registry"].host
    fake = "registry.invalid:443"
    repository = f"{fake}/pm/hello"
    doc = index_document("hello", repository, [("0.1.0", hub["digests"]["0.1.0"], None)])
    folder = write_catalog(tmp_path / "mirrored" / "api" / "v1", [doc])
    ok("sources", "add", "test", str(folder), env=env)
    failed = run_ecli("pull", "hello", env=env)
    assert failed.returncode == 1 and "registry.invalid" in failed.stderr
    ok("mirrors", "add", fake, host, env=env)
    assert json.loads(ok("mirrors", "list", "--json", env=env).stdout) == [
        {"registry": fake, "mirror": host, "from": "config"}]
    pulled = json.loads(ok("pull", "hello", "--json", env=env).stdout)
    assert pulled["digest"] == hub["digests"]["0.1.0"]
    ok("mirrors", "remove", fake, env=env)
    # a source may announce the mirror itself
    folder2 = write_catalog(tmp_path / "announced" / "api" / "v1", [doc], mirrors={fake: host})
    env2 = {**env, "ECLI_HOME": str(tmp_path / "home2")}
    ok("sources", "add", "test", str(folder2), env=env2)
    ok("update", env=env2)
    assert ok("run", "--yes", "hello", env=env2).stdout.strip() == "hello 0.1.0"


def test_offline_after_update_and_save_load_air_gapped(env, hub, tmp_path):
    with serve(hub["folder"].parent.parent) as (base, _seen):
        ok("sources", "add", "test", base + "api/v1/", env=env)
        ok("update", env=env)
        ok("install", "hello@0.2.0", env=env)
    # the server is gone: update warns about the cache's age, search and run still work
    stale = run_ecli("update", env=env)  # no source answers: exit 1, the cache still used
    assert stale.returncode == 1 and "using the cached index from" in stale.stderr
    assert "hello" in ok("search", "hello", env=env).stdout
    assert ok("run", "--yes", "hello", env=env).stdout.startswith("hello 0.2.0")
    archive = tmp_path / "hello.tar"
    saved = json.loads(ok("save", "hello", "-o", str(archive), "--json", env=env).stdout)
    (package,) = saved["packages"]
    assert package["reference"] == f"{hub['registry'].host}/pm/hello:0.2.0"
    skopeo = subprocess.run(["skopeo", "inspect", "--raw",
                             f"oci-archive:{archive}:{package['reference']}"],
                            capture_output=True, text=True, timeout=60)
    assert skopeo.returncode == 0, skopeo.stderr
    # an air-gapped machine: no source at all, no registry
    far = {**os.environ, "ECLI_HOME": str(tmp_path / "far"), "ECLI_DEFAULT_SOURCE": ""}
    loaded = json.loads(ok("load", str(archive), "--json", env=far).stdout)
    assert [(p["name"], p["digest"]) for p in loaded["packages"]] == [
        ("hello", hub["digests"]["0.2.0"])]
    ok("install", str(archive), env=far)
    assert ok("run", "--yes", "hello", env=far).stdout.startswith("hello 0.2.0")


# -- kinds, references, default source, shell habits --------------------------------


def test_image_kind_without_an_engine_is_a_clear_error(env, tmp_path):
    bare = {**env, "PATH": str(tmp_path / "empty-bin") + ":/nonexistent"}
    (tmp_path / "empty-bin").mkdir()
    result = run_ecli("run", "--yes", "boxed", env=bare)
    assert result.returncode == 1
    assert error_line(result) == (
        "ecli: error: this package is a container image, and neither podman nor docker "
        "is installed")


def test_an_unsigned_hub_bundle_is_asked_about_and_refused_without_a_terminal(env, hub,
                                                                              tmp_path):
    """Nothing vouches for the publisher's program: refused without a terminal unless --yes,
    asked on one (a real pseudo-terminal), and only 'y' runs it."""
    refused = run_ecli("run", "hello@0.2.0", "x", env=env, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2 and refused.stdout == "", refused.stderr
    assert error_line(refused) == ("ecli: error: hello has dangerous permissions "
                                   "(run-publisher-code); not run without a terminal to confirm")
    assert "dangerous  run-publisher-code  runs the publisher's program as root" in refused.stderr
    by_reference = run_ecli("run", f"{hub['registry'].host}/pm/hello:0.2.0", env=env,
                            stdin=subprocess.DEVNULL)  # no index entry: no declared signer
    assert by_reference.returncode == 2 and by_reference.stdout == "", by_reference.stderr
    assert "(run-publisher-code); not run without a terminal" in error_line(by_reference)
    argv = ecli_command("run", "hello@0.2.0", "x")
    for answer, code, printed, said in ((b"n\n", 2, "", "not run (answered 'n')"),
                                        (b"y\n", 0, "hello 0.2.0 x\n", "")):
        with open(tmp_path / "out", "w+") as out:
            status, text = on_terminal(argv, answer, env, stdout=out)
            out.seek(0)
            assert (status, out.read()) == (code, printed), text
        assert "hello can: run-publisher-code (dangerous). Run it? [y/N]" in text
        assert said in text


def test_an_image_shows_its_program_in_inspect_and_run_asks_before_the_engine(env, tmp_path):
    shown = json.loads(ok("inspect", "--json", "boxed", env=env).stdout)
    assert shown["kind"] == "image" and shown["objects"] == []
    assert [(p["id"], p["level"]) for p in shown["permissions"]] == [
        ("run-publisher-code", "dangerous")]
    assert "runs the publisher's container as root" in shown["permissions"][0]["text"]
    text = ok("inspect", "boxed", env=env).stdout
    assert "dangerous  run-publisher-code" in text and "container image" in text
    (tmp_path / "empty-bin").mkdir()
    bare = {**env, "PATH": str(tmp_path / "empty-bin") + ":/nonexistent"}
    refused = run_ecli("run", "boxed", env=bare, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2, refused.stderr  # asked first: no engine was looked for
    assert error_line(refused).startswith("ecli: error: boxed has dangerous permissions "
                                          "(run-publisher-code)")


@pytest.mark.parametrize(("target", "message"), [
    ("hello@", "nothing after '@'"),
    ("hello@1.2.3.4", "is not a version or range"),
    ("hello@^", "is not a version or range"),
    ("hello@sha256:abc", "is not a sha256 digest"),
    ("Hello", "is not a package name"),
    ("hel lo", "is not a package name"),
    ("ftp://host/x.bpf.o", "only https:// and http:// URLs"),
    ("https://host/x.txt", "must name a .bpf.o, an eunomia package.json or an OCI archive"),
    ("https://host/x.bpf.o#md5=00", "#sha256="),
    ("ghcr.io/Org/tool:1", "not a valid repository name"),
    ("ghcr.io/org/tool:bad tag", "cannot be empty or contain spaces"),
    ("127.0.0.1:5000/x@sha256:zz", "is not a sha256 digest"),
    ("", "cannot be empty"),
])
def test_bad_references_are_one_line_errors(env, target, message):
    result = run_ecli("install", target, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("ecli: error: ")
    assert message in result.stderr.splitlines()[0]
    assert not (Path(env["ECLI_HOME"]) / "state" / "installed.json").exists()


def test_default_source_is_the_public_hub_and_fails_fast(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ECLI_DEFAULT_SOURCE"}
    env["ECLI_HOME"] = str(tmp_path / "home")
    listed = json.loads(ok("sources", "list", "--json", env=env).stdout)
    assert [s["name"] for s in listed] == ["hub"]
    assert listed[0]["location"].startswith("https://")
    start = time.monotonic()
    result = run_ecli("search", "x", env=env, timeout=30)
    assert time.monotonic() - start < 15
    assert result.returncode == 1 and result.stderr.startswith("ecli: error: source hub: https://")
    local = tmp_path / "mirror"
    write_catalog(local, [])
    ok("sources", "set-default", str(local), env=env)
    assert json.loads(ok("sources", "list", "--json", env=env).stdout)[0]["location"] == \
        str(local)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_with_examples(command):
    result = run_ecli(command, "--help")
    assert result.returncode == 0
    assert "example" in result.stdout.lower(), f"ecli {command} --help has no examples"




def complete(shell: str, script: Path, line: str, env: dict[str, str]) -> list[str]:
    """What `shell` offers after `line` (a trailing space: a new word), one a line."""
    path = {**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    if shell == "zsh":  # zsh completes only in its line editor: its builtins are stood in for
        words = line.split(" ")
        command = ("compdef(){}; _describe(){ print -l -- \"${(@P)2}\" }; "
                   "compadd(){ shift; print -l -- \"$@\" }; _files(){ }; "
                   f"source {script}; words=({' '.join(repr(w) for w in words)}); "
                   f"CURRENT={len(words)}; PREFIX={words[-1]!r}; _ecli")
        argv = ["zsh", "-f", "-c", command]
    elif shell == "bash":
        words = line.split(" ")
        command = (f"source {script}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
                   f"COMP_CWORD={len(words) - 1}; _ecli; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        argv = ["bash", "-c", command]
    else:
        argv = ["fish", "-c", f"source {script}; complete -C'{line}'"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=path)
    assert done.returncode == 0, done.stderr
    return [item.split("\t")[0].split(":")[0] for item in done.stdout.splitlines()]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_complete_commands_flags_values_and_names(env, shell, tmp_path):
    script = tmp_path / f"ecli.{shell}"
    script.write_text(ok("completion", shell, env=env).stdout)
    ok("update", env=env)
    assert "search" in complete(shell, script, "ecli se", env)
    assert "--duration" in complete(shell, script, "ecli run --du", env)
    assert "--outdated" in complete(shell, script, "ecli list --", env)
    assert "add" in complete(shell, script, "ecli sources a", env)
    assert "--signatures" in complete(shell, script, "ecli sources add --sig", env)
    assert "require" in complete(shell, script, "ecli sources add --signatures r", env)
    assert "never" in complete(shell, script, "ecli run --pull n", env)
    assert "hello" in complete(shell, script, "ecli run he", env)
    # flags come from the parser: one another command takes is not offered here
    assert "--outdated" not in complete(shell, script, "ecli run --", env)


def test_the_manual_page_is_made_from_the_parser(env, tmp_path):
    page = tmp_path / "ecli.1"
    page.write_text(ok("manual", env=env).stdout)
    rendered = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True,
                              text=True, timeout=30, env={**env, "MANWIDTH": "100"})
    assert rendered.returncode == 0
    assert rendered.stderr == ""  # groff had nothing to warn about
    text = rendered.stdout
    assert "ecli - find, pull and run eBPF programs" in text
    for command in COMMANDS:
        assert f"ecli {command}" in text
    assert "ecli sources add" in text and "--signatures" in text
    assert "REGISTRY_AUTH_FILE" in text


def test_version_and_quiet(env):
    assert ok("--version", env=env).stdout.startswith("ecli ")
    assert ok("-q", "install", "hello@0.1.0", env=env).stdout == ""


# -- errors that help ------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "meant"), [("serch", "search"), ("instal", "install"),
                                               ("LIST", "list")])
def test_a_mistyped_command_names_the_nearest(typed, meant):
    result = run_ecli(typed, "x")
    assert result.returncode == 2
    assert error_line(result) == f"ecli: error: {typed!r} is not an ecli command"
    assert f"hint: did you mean {meant!r}?" in result.stderr
    assert "choose from" not in result.stderr  # not argparse's list of every command


def test_a_command_far_from_any_points_to_help():
    result = run_ecli("xyzzy")
    assert result.returncode == 2
    assert "hint: 'ecli --help' lists the commands" in result.stderr


@pytest.mark.parametrize(("typed", "meant"), [("helo", "hello"), ("hlelo", "hello"),
                                               ("Hello", "hello")])
def test_a_mistyped_package_name_names_the_nearest(env, typed, meant):
    result = run_ecli("info", typed, env=env)
    assert result.returncode != 0
    assert error_line(result).startswith("ecli: error: ")
    assert f"did you mean {meant!r}?" in result.stderr


def test_global_flags_work_after_the_command(env):
    ok("install", "hello@0.1.0", env=env)
    # -q turns a listing into names only, before or after the command
    assert ok("list", "-q", env=env).stdout == "hello\n"
    assert ok("-q", "list", env=env).stdout == "hello\n"
    assert ok("search", "hel", "-q", env=env).stdout == "hello\n"
    assert ok("ps", "-q", env=env).stdout == ""
    assert "reference: " in run_ecli("info", "nothere", "-v", env=env).stderr


def test_search_says_where_each_hit_comes_from_when_sources_differ(env, hub):
    ok("sources", "add", "second", str(hub["folder"]), env=env)
    ok("update", env=env)
    lines = ok("search", "hello", env=env).stdout.splitlines()
    assert lines[0].split()[:4] == ["NAME", "VERSION", "KIND", "SOURCE"]
    rows = [line.split() for line in lines[1:]]
    assert sorted((row[0], row[3]) for row in rows) == [("hello", "second"), ("hello", "test")]
