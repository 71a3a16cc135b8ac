"""The build cache: what `generator build` keeps between builds so a rebuild redoes only
what changed.

It lives in `.cache/generator/` beside the index folder (`--cache DIR` chooses
another, `--no-cache` builds without one) and holds:

    validation.json   per entry file: sha256 of its bytes (and of its README),
                      and the valid entry it gave
    outputs.json      per package: the key of its inputs, the sha256 of its page
                      and of its api/v1 document, and its architectures (for the
                      catalog, which is written afresh)
    objects/ab/SHA    those outputs, named by the sha256 of their content
    lock              held for the whole build: two builds never share it at once

Deleting the folder at any time costs one cold build, nothing else. Nothing in
it is trusted blindly: each JSON file starts with a line naming the cache
format, the generator's stamp (a hash of its own source, ecli's, the libraries'
versions and the index's schema) and the sha256 of the rest of the file; a file
whose line does not match, that does not parse, or whose records have the wrong
shape is ignored whole. Objects are hashed again before they are used, so a
truncated or altered one is rendered again instead of published. Only failed
entries are never cached: they are validated every time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from ecli import files
from ecli.errors import ReferenceError_
from ecli.files import write_atomic
from ecli.oci.reference import OciReference
from ecli.oci.reference import parse as parse_reference
from generator.entry import Entry, EntryVersion
from generator.problems import GeneratorError, Problem

CACHE_DIR = ".cache/generator"
FORMAT = 1
VALIDATION_FILE = "validation.json"
OUTPUTS_FILE = "outputs.json"
OBJECTS_DIR = "objects"
LIBRARIES = ("PyYAML", "fastjsonschema", "jsonschema", "Markdown", "nh3", "mkdocs",
             "mkdocs-material", "pymdown-extensions")
_ROOT = Path(__file__).resolve().parent.parent


def default_dir(index_dir: Path) -> Path:
    return index_dir.resolve().parent / CACHE_DIR


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def code_stamp() -> str:
    """Changes whenever the code or libraries that shape a build's output change."""
    digest = hashlib.sha256(f"{FORMAT} {sys.version}".encode())
    for package in ("generator", "ecli"):
        for path in sorted((_ROOT / package).rglob("*")):
            relative = path.relative_to(_ROOT)
            if path.suffix in (".py", ".txt", ".json") and "templates" not in relative.parts:
                digest.update(str(relative).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    for name in LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=none\0".encode())
    return digest.hexdigest()


def stamp(*extra: str | bytes) -> str:
    """The code stamp joined with what else a cache file depends on (schema, index root)."""
    digest = hashlib.sha256(code_stamp().encode())
    for part in extra:
        digest.update(b"\0" + (part if isinstance(part, bytes) else part.encode()))
    return digest.hexdigest()


def folder_stamp(folder: Path) -> bytes:
    """Names and contents of the files of a folder, e.g. index/schema."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(folder)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.digest()


@contextmanager
def locked(folder: Path) -> Iterator[Path]:
    """Hold the cache for one build; a second build waits for the first."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "lock").touch()
    except OSError as exc:
        raise GeneratorError([Problem(str(folder), 1, 1, "", "cannot use the build cache: "
                                      f"{exc.strerror}", code="cache",
                                      hint="delete it, choose another with --cache DIR, "
                                      "or build with --no-cache")]) from None
    with files.locked(folder / "lock"):
        yield folder


def load_json(path: Path, file_stamp: str) -> dict[str, Any] | None:
    """The payload of a cache file, or None when it is missing, stale or damaged."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    head, newline, body = raw.partition(b"\n")
    try:
        header = json.loads(head)
        if not newline or header != {"format": FORMAT, "stamp": file_stamp,
                                     "sha256": sha256(body)}:
            return None
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def save_json(path: Path, file_stamp: str, data: dict[str, Any]) -> None:
    # not sorted: an entry's mappings keep the order they were written in, as a cold build does
    body = json.dumps(data, separators=(",", ":")).encode()
    header = json.dumps({"format": FORMAT, "stamp": file_stamp, "sha256": sha256(body)},
                        sort_keys=True).encode()
    write_atomic(path, header + b"\n" + body)


# --- validation results ------------------------------------------------------------


class Validations:
    """Valid entries by file, reused while the file (and its README) hash the same."""

    def __init__(self, folder: Path, file_stamp: str) -> None:
        self.path = folder / VALIDATION_FILE
        self.stamp = file_stamp
        loaded = load_json(self.path, file_stamp)
        files = loaded.get("files") if loaded else None
        self.old: dict[str, Any] = files if isinstance(files, dict) else {}
        self.new: dict[str, Any] = {}
        self.hits = 0

    def lookup(self, path: Path, raw: bytes) -> Entry | None:
        record = self.old.get(str(path))
        try:
            if record is None or record["sha256"] != sha256(raw):
                return None
            for dependency, expected in record["depends"]:
                if sha256(Path(dependency).read_bytes()) != expected:
                    return None
            entry = entry_from_record(record["entry"])
        except (OSError, KeyError, TypeError, ValueError, ReferenceError_):
            return None
        self.new[str(path)] = record
        self.hits += 1
        return entry

    def store(self, path: Path, raw: bytes, entry: Entry, depends: tuple[Path, ...]) -> None:
        try:
            hashed = [[str(p), sha256(p.read_bytes())] for p in depends]
        except OSError:
            return
        self.new[str(path)] = {"sha256": sha256(raw), "depends": hashed,
                               "entry": entry_record(entry)}

    def save(self) -> None:
        if self.new != self.old:
            save_json(self.path, self.stamp, {"files": self.new})


def entry_record(entry: Entry) -> dict[str, Any]:
    """An entry as plain JSON; its references are parsed again when read back."""
    return {
        "name": entry.name, "file": entry.file, "summary": entry.summary, "kind": entry.kind,
        "owners": list(entry.owners), "license": entry.license, "test": entry.test,
        "description": entry.description, "example": entry.example,
        "homepage": entry.homepage, "source": entry.source,
        "keywords": list(entry.keywords), "categories": list(entry.categories),
        "name_line": entry.name_line, "name_col": entry.name_col,
        "signer_key": entry.signer_key, "signer_identity": entry.signer_identity,
        "signer_issuer": entry.signer_issuer,
        "versions": [[v.version, v.ref, v.yanked, v.requirements, v.line, v.col,
                      [v.reference.registry, v.reference.repository, v.reference.tag,
                       v.reference.digest]] for v in entry.versions],
    }


def entry_from_record(record: dict[str, Any]) -> Entry:
    texts = ("name", "file", "summary", "kind", "license", "description")
    if not all(isinstance(record[key], str) for key in texts):
        raise TypeError("entry record: a text field is not a string")
    versions = []
    for version, ref, yanked, requirements, line, col, parts in record["versions"]:
        if not (isinstance(version, str) and isinstance(ref, str)
                and isinstance(requirements, dict) and isinstance(line, int)
                and isinstance(col, int) and (yanked is None or isinstance(yanked, str))):
            raise TypeError("entry record: a version has the wrong shape")
        versions.append(EntryVersion(version, ref, _reference(ref, parts), yanked,
                                     requirements, line, col))
    return Entry(
        name=record["name"], file=record["file"], summary=record["summary"],
        kind=record["kind"], owners=_texts(record["owners"]), license=record["license"],
        test=_test(record.get("test")),
        description=record["description"], example=_text_or_none(record.get("example")) or "",
        homepage=_text_or_none(record["homepage"]),
        source=_text_or_none(record["source"]), keywords=_texts(record["keywords"]),
        categories=_texts(record["categories"]), versions=tuple(versions),
        name_line=int(record["name_line"]), name_col=int(record["name_col"]),
        signer_key=_text_or_none(record.get("signer_key")),
        signer_identity=_text_or_none(record.get("signer_identity")),
        signer_issuer=_text_or_none(record.get("signer_issuer")))


def _reference(ref: str, parts: Any) -> OciReference:
    """The parsed reference kept in the record when it spells `ref` exactly, else `ref`
    parsed again (parsing 50,000 references costs most of a second)."""
    if isinstance(parts, list) and len(parts) == 4 and all(
            p is None or isinstance(p, str) for p in parts) and parts[0] and parts[1]:
        kept = OciReference(*parts)
        if str(kept) == ref:
            return kept
    return parse_reference(ref)


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("entry record: expected a list of strings")
    return tuple(value)


def _text_or_none(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError("entry record: expected a string")
    return value


# --- rendered outputs --------------------------------------------------------------


class Outputs:
    """Each package's page and api/v1 document, stored by content, found by input key."""

    def __init__(self, folder: Path, file_stamp: str) -> None:
        self.path = folder / OUTPUTS_FILE
        self.objects = folder / OBJECTS_DIR
        self.stamp = file_stamp
        loaded = load_json(self.path, file_stamp)
        packages = loaded.get("packages") if loaded else None
        self.old: dict[str, Any] = packages if isinstance(packages, dict) else {}
        self.new: dict[str, list[str]] = {}
        self._shards: set[str] = set()  # object folders known to exist
        if self.objects.exists() and not self.objects.is_dir():
            _remove(self.objects)

    def key(self, *parts: str | bytes) -> str:
        digest = hashlib.sha256(self.stamp.encode())
        for part in parts:
            digest.update(b"\0" + (part if isinstance(part, bytes) else part.encode()))
        return digest.hexdigest()

    def reuse(self, name: str, key: str, destinations: tuple[Path, ...]) -> str | None:
        """Place the outputs recorded under `key` at `destinations` and return what was
        recorded with them; None when any is missing or damaged (render it again)."""
        record = self.old.get(name)
        if (not isinstance(record, list) or len(record) != len(destinations) + 2
                or record[0] != key or not all(isinstance(s, str) for s in record)):
            return None
        for digest, destination in zip(record[1:-1], destinations, strict=True):
            if not self.place(digest, destination):
                return None
        self.new[name] = record
        return record[-1]

    def place(self, digest: str, destination: Path) -> bool:
        """Put the intact object `digest` at `destination` (whose folder exists)."""
        try:
            source = self._object(digest)
            data = source.read_bytes()
        except (OSError, ValueError):
            return False
        if sha256(data) != digest:
            return False
        try:
            os.link(source, destination)
        except OSError:
            destination.write_bytes(data)
        return True

    def put(self, data: bytes, destination: Path) -> str:
        """Write `data` at `destination` and keep it as an object (the same file, linked);
        an intact object already there is linked instead. Returns its sha256."""
        digest = sha256(data)
        target = self._object(digest)
        if _holds(target, digest):
            try:
                os.link(target, destination)
                return digest
            except OSError:
                pass
        destination.write_bytes(data)
        try:
            _remove(target)
            if target.parent.name not in self._shards:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._shards.add(target.parent.name)
            os.link(destination, target)
        except OSError:
            pass  # not kept: the next build renders it again
        return digest

    def record(self, name: str, key: str, digests: tuple[str, ...], extra: str) -> None:
        self.new[name] = [key, *digests, extra]

    def save(self) -> None:
        """Write the record of this build and drop objects no package uses any more."""
        if self.new != self.old:
            save_json(self.path, self.stamp, {"packages": self.new})
        used = {digest for record in self.new.values() for digest in record[1:-1]}
        for shard in self.objects.iterdir() if self.objects.is_dir() else ():
            for item in shard.iterdir() if shard.is_dir() else (shard,):
                if item.name not in used:
                    _remove(item)

    def _object(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError("not a sha256 digest")
        return self.objects / digest[:2] / digest


def _holds(path: Path, digest: str) -> bool:
    try:
        return sha256(path.read_bytes()) == digest
    except OSError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _test(value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise TypeError("entry record: test is not an object")
    return value
