"""`python -m generator build --offline`: api/v1 through the model, pages, atomic output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ecli.hubindex import model
from generator import lock
from generator.__main__ import main

from index_fixtures import opensnoop_only_index

REPO = Path(__file__).resolve().parent.parent
INDEX = opensnoop_only_index()
API_SCHEMA = REPO / "ecli" / "hubindex" / "api-v1.schema.json"
DIGEST = "sha256:" + "ab" * 32
REF = "127.0.0.1:5000/ebpfhub/opensnoop:0.1.0"


def write_lock(path: Path, digest: str = DIGEST) -> Path:
    lock.write(path, {"opensnoop": {"0.1.0": lock.Locked(REF, digest, "2025-01-02T03:04:05Z")}})
    return path


def api_validator(definition: str) -> Draft202012Validator:
    schema = json.loads(API_SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator({**schema, "$ref": f"#/$defs/{definition}"})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("build")
    out = tmp / "site"
    done = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--index", str(INDEX), "--offline",
         "--lock", str(write_lock(tmp / "lock.json")), "--out", str(out)],
        cwd=tmp, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: 1 package(s)")
    assert done.stdout.rstrip().endswith("index unsigned (no --hub-key, no HUB_SIGNING_KEY)")
    assert done.stderr == ""  # mkdocs' log does not leak
    return out


def test_api_documents_load_through_the_model_and_match_the_schema(built: Path):
    api = built / "api" / "v1"
    root = model.load_root((api / "index.json").read_bytes(), "index.json")
    catalog = model.load_catalog((api / root.catalog).read_bytes(), "catalog.json")
    package = model.load_package(
        (api / root.packages.format(name="opensnoop")).read_bytes(), "opensnoop.json")
    docs = model.load_search_docs((api / model.SEARCH_DOCS_FILE).read_bytes(), "docs.json")
    assert root.search == "search/index.json"
    assert root.signer is None and model.load_signed_root(
        (api / "index.json").read_bytes(), "index.json").signatures == ()
    assert "catalog.json" in root.documents and root.version > 0  # listed, unsigned
    assert [e.name for e in catalog.packages] == ["opensnoop"]
    assert catalog.packages[0].latest == "0.1.0"
    assert catalog.packages[0].keywords == ("file", "open", "syscall", "trace", "io")
    version = package.find_version(None)
    assert (version.version, version.digest, version.ref) == ("0.1.0", DIGEST, REF)
    assert version.repository == "127.0.0.1:5000/ebpfhub/opensnoop"
    assert version.permissions == ("CAP_BPF", "CAP_PERFMON")
    assert version.requirements["min_kernel"] == "5.8"
    assert docs.packages["opensnoop"].kind == "bpf"
    for name, definition in (("index.json", "root"), ("catalog.json", "catalog"),
                             ("packages/opensnoop.json", "package"),
                             ("search/docs.json", "search_docs"),
                             ("search/index.json", "search_head"),
                             ("search/terms/o.json", "search_terms"),
                             ("search/docs/0.json", "search_block"),
                             ("search/kernels.json", "search_kernels")):
        errors = list(api_validator(definition).iter_errors(json.loads((api / name).read_text())))
        assert errors == [], (name, [e.message for e in errors])


def test_schema_rejects_what_the_model_rejects():
    bad = {"schema_version": 1, "name": "x", "summary": "s", "kind": "bpf",
           "versions": [{"version": "1.0.0", "ref": "r", "repository": "r", "digest": "md5:1"}]}
    assert list(api_validator("package").iter_errors(bad))
    with pytest.raises(Exception, match="not a sha256 digest"):
        model.load_package(json.dumps(bad).encode(), "bad")


def test_search_index_is_sharded_by_first_character(built: Path):
    search = built / "api" / "v1" / "search"
    head = json.loads((search / "index.json").read_text())
    assert head["names"] == ["opensnoop"] and head["count"] == 1
    assert head["kind_bits"] == 3 and head["flags"][0] & 7 == 0  # kind bpf
    assert head["flags"][0] & (1 << 3)  # observability
    assert head["kinds"] == ["bpf", "bundle", "image", "eunomia-json", "wasm"]
    assert "x" not in head["shards"] and not (search / "terms" / "x.json").exists()
    # every one-character query's answer, for the page to show before the shard arrives
    assert head["first"]["o"] == {"count": 1, "top": [0]} and "x" not in head["first"]
    assert "a" not in head["first"]  # a stop word is no query word
    assert head["ranking"]["exact"][0] > head["ranking"]["prefix"][0]

    def postings(term: str) -> list[int]:
        shard = json.loads((search / "terms" / f"{term[0]}.json").read_text())
        return shard["postings"][shard["terms"].index(term)]

    assert postings("opensnoop") == [0]  # package 0, field 0: the name
    assert postings("snoop") == [1]  # a suffix of the name
    assert postings("syscall") == [2]  # a keyword
    assert postings("system") == [3]  # a summary word
    block = json.loads((search / "docs" / "0.json").read_text())
    assert block["first"] == 0 and block["docs"][0][1] == "0.1.0"


def test_pages_exist_and_show_digest_commands_and_no_builtin_search(built: Path):
    page = (built / "packages" / "opensnoop" / "index.html").read_text()
    assert DIGEST in page
    assert "sudo ecli run opensnoop" in page
    assert f"ecli pull 127.0.0.1:5000/ebpfhub/opensnoop@{DIGEST}" in page
    assert "Trace open() system calls" in page
    home = (built / "index.html").read_text()
    assert 'href="packages/opensnoop/"' in home and "Featured" in home
    assert (built / "search" / "index.html").is_file()
    assert (built / "authors" / "ebpfhub" / "index.html").is_file()
    assert "hub-search.js" in home and (built / "assets" / "hub-search.js").is_file()
    assert not (built / "search" / "search_index.json").exists()  # theme search is off
    assert not (built / "packages" / "hub-template").exists()
    assert "fonts.googleapis.com" not in home  # works offline
    assert "packages/opensnoop/" not in home.split('class="md-nav')[1].split("</nav>")[0]


def test_description_html_is_sanitised(tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(INDEX, index)
    entry = index / "packages" / "opensnoop.yaml"
    entry.write_text(entry.read_text().replace(
        "  Use it to find out",
        '  <script>alert(1)</script><img src=x onerror="alert(2)">'
        '<a href="javascript:alert(3)">x</a>\n\n  Use it to find out'))
    out = tmp_path / "site"
    assert main(["build", "--index", str(index), "--offline", "--out", str(out),
                 "--config", str(REPO / "mkdocs.yml"),
                 "--lock", str(write_lock(tmp_path / "lock.json"))]) == 0
    page = (out / "packages" / "opensnoop" / "index.html").read_text()
    article = page.split('<h2 id="description">')[1].split('<h2 id="versions">')[0]
    assert "<script" not in article and "onerror" not in article
    assert "javascript:" not in article
    assert "Use it to find out" in article


def test_missing_digest_fails_and_leaves_previous_site_untouched(
        built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "site"
    shutil.copytree(built, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    stamp = (out / "api" / "v1" / "index.json").read_bytes()
    empty_lock = tmp_path / "lock.json"
    lock.write(empty_lock, {})
    code = main(["build", "--index", str(INDEX), "--offline", "--lock", str(empty_lock),
                 "--out", str(out)])
    output = capsys.readouterr().out
    assert code == 1
    assert "opensnoop 0.1.0 has no digest in the lock [lock]" in output
    assert f"{INDEX / 'packages' / 'opensnoop.yaml'}:" in output
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert (out / "api" / "v1" / "index.json").read_bytes() == stamp


def test_mkdocs_failure_leaves_previous_site_untouched_and_no_staging(
        built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "site"
    shutil.copytree(built, out)
    stamp = (out / "api" / "v1" / "index.json").read_bytes()
    config = tmp_path / "mkdocs.yml"
    config.write_text((REPO / "mkdocs.yml").read_text().replace(
        "custom_dir: site_overrides", "custom_dir: no_such_dir"))
    code = main(["build", "--index", str(INDEX), "--offline", "--config", str(config),
                 "--lock", str(write_lock(tmp_path / "lock.json")), "--out", str(out)])
    assert code == 1
    assert "mkdocs failed" in capsys.readouterr().out
    assert (out / "api" / "v1" / "index.json").read_bytes() == stamp
    assert not (tmp_path / "site.tmp").exists()


def test_refuses_to_replace_a_directory_that_is_not_a_site(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    code = main(["build", "--index", str(INDEX), "--offline", "--out", str(precious),
                 "--lock", str(write_lock(tmp_path / "lock.json"))])
    assert code == 1
    assert "refusing to replace this path" in capsys.readouterr().out
    assert (precious / "notes.txt").read_text() == "keep me"


def test_rebuild_replaces_the_site(built: Path, tmp_path: Path):
    out = tmp_path / "site"
    shutil.copytree(built, out)
    other = "sha256:" + "cd" * 32
    assert main(["build", "--index", str(INDEX), "--offline", "--out", str(out),
                 "--lock", str(write_lock(tmp_path / "lock.json", other))]) == 0
    assert other in (out / "packages" / "opensnoop" / "index.html").read_text()
    assert not (tmp_path / "site.old").exists() and not (tmp_path / "site.tmp").exists()
