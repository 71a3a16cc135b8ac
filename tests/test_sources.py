"""Sources, `ecli update`, `search` and `info` against real folders and HTTP."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ecli.hubindex import model

from ecli_process import run_ecli
from index_fixtures import package, serve, write_index


@pytest.fixture
def index_dir(tmp_path):
    return write_index(tmp_path / "api" / "v1", [
        package("opensnoop", "Trace open() system calls", ("file", "open")),
        package("execsnoop", "Trace process execution", ("exec", "process")),
        package("tcpstates", "TCP state changes", ("tcp", "network"), ("0.2.0", "0.1.0"),
                yanked="broken on 6.1"),
    ])


def test_add_list_remove_a_folder_source(env, index_dir):
    assert run_ecli("sources", "add", "local", str(index_dir), env=env).returncode == 0
    listed = json.loads(run_ecli("sources", "list", "--json", env=env).stdout)
    assert listed == [{"name": "local", "location": str(index_dir), "priority": 100,
                       "signatures": "warn", "hub_key": None}]
    assert run_ecli("sources", "remove", "local", env=env).returncode == 0
    assert json.loads(run_ecli("sources", "list", "--json", env=env).stdout) == []


def test_search_ranks_name_matches_and_finds_keywords(env, index_dir):
    run_ecli("sources", "add", "local", str(index_dir), env=env)
    hits = json.loads(run_ecli("search", "snoop", "--json", env=env).stdout)
    assert [h["name"] for h in hits] == ["execsnoop", "opensnoop"]
    hits = json.loads(run_ecli("search", "network", "--json", env=env).stdout)
    assert [h["name"] for h in hits] == ["tcpstates"]
    table = run_ecli("search", "open", env=env).stdout.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "KIND", "SUMMARY"]
    assert table[1].startswith("opensnoop")
    none = run_ecli("search", "zzz", env=env)
    assert none.returncode == 1 and "no packages match" in none.stdout


def test_info_shows_versions_and_yanks(env, index_dir):
    run_ecli("sources", "add", "local", str(index_dir), env=env)
    info = run_ecli("info", "tcpstates", env=env)
    assert info.returncode == 0
    assert "0.2.0" in info.stdout and "yanked: broken on 6.1" in info.stdout
    data = json.loads(run_ecli("info", "tcpstates", "--json", env=env).stdout)
    assert [v["version"] for v in data["versions"]] == ["0.2.0", "0.1.0"]


def test_update_over_http_is_conditional(env, index_dir):
    with serve(index_dir.parent.parent) as (base, seen):
        url = base + "api/v1/"
        assert run_ecli("sources", "add", "hub", url, env=env).returncode == 0
        first = run_ecli("update", "--json", env=env)
        assert json.loads(first.stdout) == [{"source": "hub", "changed": True, "packages": 3,
                                               "offline": False}]
        seen.clear()
        second = run_ecli("update", "--json", env=env)
        assert json.loads(second.stdout) == [{"source": "hub", "changed": False, "packages": 3,
                                                "offline": False}]
        assert seen == [("/api/v1/index.json", "304")]
        # search works offline from the cache: no request at all
        seen.clear()
        assert run_ecli("search", "open", env=env).returncode == 0
        assert seen == []


def test_no_source_and_unknown_package_are_clear(env, index_dir):
    result = run_ecli("run", "opensnoop", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("ecli: error: no package sources are configured")
    run_ecli("sources", "add", "local", str(index_dir), env=env)
    result = run_ecli("run", "no-such-package", env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "ecli: error: no package named 'no-such-package' in any source (local)")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("content", "message"), [
    (b'{"schema_version": 2, "generated": "x"}', "schema_version 2 is not supported"),
    (b'{"schema_version": 1, "generated": "x", "packages": [{"name": 3}]}',
     "field 'name' must be str"),
    (b'{"schema_version": 1, "gener', "not valid JSON"),
    (b"[]", "expected a JSON object"),
])
def test_bad_catalog_documents_are_refused(env, index_dir, content, message):
    (index_dir / model.CATALOG_FILE).write_bytes(content)
    run_ecli("sources", "add", "local", str(index_dir), env=env)
    result = run_ecli("update", env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("target", ["Bad_Name", "name@", "ghcr.io/UPPER/x:1", "a@b@c"])
def test_malformed_targets(env, target):
    result = run_ecli("run", target, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("ecli: error:")
    assert len(result.stderr.splitlines()) <= 2


@pytest.mark.parametrize(("name", "content", "message"), [
    ("huge", b'{"schema_version": 1, "generated": "x", "packages": []}' + b" " * (65 << 20),
     "document is larger than 64 MiB"),
    ("future", b'{"schema_version": 99, "generated": "x", "packages": []}',
     "schema_version 99 is not supported (this ecli reads 1)"),
    ("truncated", b'{"schema_version": 1, "generated": "x", "packages": [{"na',
     "not valid JSON"),
    ("binary", b"\xff\xfe\x00garbage", "not valid JSON"),
])
def test_bad_documents_over_http_leave_the_cache_untouched(env, index_dir, name, content,
                                                           message):
    with serve(index_dir.parent.parent) as (base, _seen):
        run_ecli("sources", "add", "hub", base + "api/v1/", env=env)
        assert run_ecli("update", env=env).returncode == 0
        cached = (Path(env["ECLI_HOME"]) / "cache" / "index" / "hub" / "catalog.json")
        before = cached.read_bytes()
        (index_dir / model.CATALOG_FILE).write_bytes(content)
        root = json.loads((index_dir / model.ROOT_FILE).read_text())
        root["generated"] = "2027-01-01T00:00:00Z"  # a new root, so the catalog is fetched
        (index_dir / model.ROOT_FILE).write_text(json.dumps(root))
        later = time.time() + 10  # Last-Modified has a one-second resolution
        for changed in (model.ROOT_FILE, model.CATALOG_FILE):
            os.utime(index_dir / changed, (later, later))
        result = run_ecli("update", env=env)
    assert message in result.stderr
    assert "using the cached index" in result.stderr  # the old copy still serves
    assert cached.read_bytes() == before
    assert run_ecli("search", "open", env=env).returncode == 0


def test_separators_inside_summaries_cannot_shift_the_search_cache(env, tmp_path):
    """The cached catalog keeps entries and their search texts in two runs of lines;
    a summary holding the cache's own separators (newline, \\x1e, \\x1f, tab) must not
    pair one package's text with another's entry."""
    folder = tmp_path / "api" / "v1"
    write_index(folder, [
        package("first", "alpha\n\x1e\nbravo\tcharlie\x1fdelta\r\x85\u2028echo"),
        package("second", "zulu", keywords=("yankee",)),
        package("third", "x-ray\x1e\x1e\n\n", keywords=("whiskey",))])
    assert run_ecli("sources", "add", "local", str(folder), env=env).returncode == 0
    assert run_ecli("update", env=env).returncode == 0
    for term, names in (("bravo", ["first"]), ("echo", ["first"]), ("yankee", ["second"]),
                        ("whiskey", ["third"]), ("zulu", ["second"]), ("delta", ["first"])):
        hits = json.loads(run_ecli("search", term, "--json", env=env).stdout)
        assert [h["name"] for h in hits] == names, term
    summary = json.loads(run_ecli("search", "second", "--json", env=env).stdout)[0]["summary"]
    assert summary == "zulu"


def test_a_search_cache_cut_short_is_rebuilt_from_the_checked_catalog(env, index_dir):
    assert run_ecli("sources", "add", "local", str(index_dir), env=env).returncode == 0
    assert run_ecli("update", env=env).returncode == 0
    cache = next(Path(env["ECLI_HOME"]).rglob("entries.tsv"))
    whole = cache.read_bytes()
    cache.write_bytes(whole[:-len(whole.splitlines(keepends=True)[-1])])  # one text short
    hits = json.loads(run_ecli("search", "snoop", "--json", env=env).stdout)
    assert [h["name"] for h in hits] == ["execsnoop", "opensnoop"]
    assert cache.read_bytes() == whole


def test_search_from_the_cache_loads_neither_the_index_model_nor_the_trust_checks(
        env, index_dir):
    """`ecli search` reads the flattened catalog only: importing the model's dataclasses
    and the trust checks cost a fifth of its time (docs/benchmarks.md)."""
    assert run_ecli("sources", "add", "local", str(index_dir), env=env).returncode == 0
    assert run_ecli("update", env=env).returncode == 0
    searched = run_ecli("search", "snoop", env={**env, "PYTHONPROFILEIMPORTTIME": "1"})
    assert searched.returncode == 0 and "opensnoop" in searched.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in searched.stderr.splitlines()
                if line.startswith("import time:")}
    assert "ecli.packages.index_client" in imported
    assert not imported & {"ecli.hubindex.model", "ecli.packages.indextrust", "hashlib",
                           "ecli.packages.index_update"}


def test_a_cached_package_document_is_read_without_search_or_trust_modules(env, index_dir):
    """`ecli run NAME` of a cached package finds the name and reads its cached document:
    the search ranking, the suggestions and the trust checks are not imported for that
    (their import cost came before the first event); fetching the document still checks
    it against the index root."""

    def imported_by_info() -> set[str]:
        shown = run_ecli("info", "opensnoop", env={**env, "PYTHONPROFILEIMPORTTIME": "1"})
        assert shown.returncode == 0 and "Trace open()" in shown.stdout
        return {line.rsplit("|", 1)[-1].strip() for line in shown.stderr.splitlines()
                if line.startswith("import time:")}

    assert run_ecli("sources", "add", "local", str(index_dir), env=env).returncode == 0
    assert run_ecli("update", env=env).returncode == 0
    fetched = imported_by_info()  # fetched: checked, then cached
    assert {"ecli.packages.index_update", "ecli.packages.indextrust"} <= fetched
    cached = imported_by_info()
    assert {"ecli.packages.index_client", "ecli.hubindex.model"} <= cached
    assert not cached & {"ecli.packages.indextrust", "ecli.packages.index_update",
                         "ecli.packages.search_rank", "ecli.suggest"}
