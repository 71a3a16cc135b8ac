"""The api/v1 records are written byte for byte as published: each record an object of
its fields in order, tuples as lists, a signer's unset form left out. The expected bytes
were written by the model when its records were dataclasses, so they hold the format
across the change to named tuples."""

from __future__ import annotations

import json

import pytest

from ecli.hubindex import model
from ecli.packages.inspection import MapDetail

from ecli_process import run_ecli
from index_fixtures import package, write_index

DIGEST = "sha256:" + "ab" * 32
FINGERPRINT = "sha256:" + "ef" * 32


def full_package() -> model.PackageDocument:
    """A package that sets every kind of record the format nests."""
    return model.PackageDocument(
        schema_version=1, name="tool", summary="a tool", kind="bpf", license="MIT",
        owners=("o",), keywords=("k",),
        versions=(model.Version(
            version="1.0.0", ref="r/tool:1.0.0", repository="r/tool", digest=DIGEST,
            platforms=(model.Platform("linux", "amd64", "sha256:" + "cd" * 32),),
            requirements={"min_kernel": "5.8"}, permissions=("CAP_BPF",),
            inspection=model.Inspection(
                programs=(model.ProgramInfo("kprobe/x", "kprobe", "x"),),
                maps=(model.MapInfo("m", "hash"),), helpers=("h",), license="GPL",
                min_kernel="5.8", capabilities=("CAP_BPF",),
                permissions=(model.Permission("p", "info", "t"),), size=9,
                metrics=(model.ExportedMetric("c", "counter"),),
                options=(model.ProgramOption("pid", "int", "0", "only"),)),
            kernels=(model.KernelResult("6.1", "x86_64", "pass", "", "2026-12-01"),)),),
        signer=model.Signer("PEM", FINGERPRINT))


PACKAGE_BYTES = (
    b'{"schema_version":1,"name":"tool","summary":"a tool","kind":"bpf","description":"",'
    b'"example":"","license":"MIT","homepage":null,"source":null,"owners":["o"],'
    b'"keywords":["k"],"categories":[],"versions":[{"version":"1.0.0","ref":"r/tool:1.0.0",'
    b'"repository":"r/tool","digest":"' + DIGEST.encode() + b'","platforms":[{"os":"linux",'
    b'"architecture":"amd64","digest":"sha256:' + b"cd" * 32 + b'"}],"published":null,'
    b'"yanked":null,"requirements":{"min_kernel":"5.8"},"permissions":["CAP_BPF"],'
    b'"inspection":{"programs":[{"section":"kprobe/x","type":"kprobe","attach":"x"}],'
    b'"maps":[{"name":"m","type":"hash"}],"helpers":["h"],"license":"GPL",'
    b'"min_kernel":"5.8","capabilities":["CAP_BPF"],"permissions":[{"id":"p",'
    b'"level":"info","text":"t"}],"size":9,"metrics":[{"name":"c","kind":"counter"}],'
    b'"options":[{"flag":"pid","type":"int","default":"0","description":"only"}]},'
    b'"signature":null,"kernels":[{"kernel":"6.1","arch":"x86_64","result":"pass",'
    b'"reason":"","tested":"2026-12-01"}]}],"signer":{"key":"PEM","fingerprint":"'
    + FINGERPRINT.encode() + b'"}}\n')
ROOT_HEAD = (b'{"schema_version":1,"generated":"g","catalog":"catalog.json",'
             b'"packages":"packages/{name}.json","search":null,"registry_mirrors":{},'
             b'"version":0,"documents":{},')


def test_a_package_document_is_written_as_published_and_reads_back_equal():
    raw = model.dump(full_package())
    assert raw == PACKAGE_BYTES
    assert model.load_package(raw, "tool.json") == full_package()
    assert model.dump(model.load_package(raw, "tool.json")) == raw


@pytest.mark.parametrize(("root", "signatures", "expected"), [
    (model.Root(1, "g"), None, ROOT_HEAD + b'"signer":null}\n'),
    (model.Root(1, "g", signer=model.Signer(identity="i", issuer="https://x")),
     [model.RootSignature("k", "s")],
     ROOT_HEAD + b'"signer":{"identity":"i","issuer":"https://x"},'
                 b'"signatures":[{"keyid":"k","sig":"s"}]}\n'),
], ids=["defaults", "signed"])
def test_a_root_is_written_as_published(root, signatures, expected):
    written = model.dump(root) if signatures is None else model.dump_root(root, signatures)
    assert written == expected


def test_catalog_and_search_docs_are_written_as_published():
    catalog = model.Catalog(1, "g", (model.CatalogEntry("a", "s", "bpf", None),))
    assert model.dump(catalog) == (
        b'{"schema_version":1,"generated":"g","packages":[{"name":"a","summary":"s",'
        b'"kind":"bpf","latest":null,"keywords":[],"categories":[],"owners":[],'
        b'"updated":null,"architectures":[]}]}\n')
    docs = model.SearchDocs(1, {"a": model.SearchDoc("s", "bpf")})
    assert model.dump(docs) == (
        b'{"schema_version":1,"packages":{"a":{"summary":"s","kind":"bpf","latest":null}}}\n')


def test_the_shared_empty_defaults_cannot_be_changed():
    """Every root and version without mirrors, documents or requirements shares one
    mapping: writing into it would change them all, so it refuses."""
    root = model.Root(1, "g")
    assert root.registry_mirrors is model.Root(1, "h").registry_mirrors
    for mapping in (root.registry_mirrors, root.documents,
                    model.Version("1", "r", "r", DIGEST).requirements):
        with pytest.raises(TypeError):
            mapping["x"] = "y"  # type: ignore[index]


def test_plain_reads_records_before_tuples_and_dataclass_records_too():
    assert model.plain((model.MapInfo("m", "hash"), ("a", 1))) == [
        {"name": "m", "type": "hash"}, ["a", 1]]
    assert model.plain(MapDetail("m", "hash", 4, 8, 16)) == {
        "name": "m", "type": "hash", "key_size": 4, "value_size": 8, "max_entries": 16}
    assert model.plain(model.Signer(identity="i", issuer="https://x")) == {
        "identity": "i", "issuer": "https://x"}


def test_info_json_is_the_package_document_as_published(env, tmp_path):
    """`ecli info --json` prints the document in its published form: a key signer
    without the keyless form's fields."""
    signed = package("signed", "a signed tool")._replace(
        signer=model.Signer("PEM", FINGERPRINT), source="https://example.org/signed")
    folder = write_index(tmp_path / "api" / "v1", [signed])
    assert run_ecli("sources", "add", "local", str(folder), env=env).returncode == 0
    shown = run_ecli("info", "signed", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    published = json.loads((folder / "packages" / "signed.json").read_bytes())
    assert json.loads(shown.stdout) == {**published, "from": "local"}
    # the package's own source (its code) and the index source it came from, both
    assert published["source"] == "https://example.org/signed"
    assert published["signer"] == {"key": "PEM", "fingerprint": FINGERPRINT}
