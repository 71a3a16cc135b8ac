"""Validation of the index: the schema, then semantic rules, then cross-entry rules.

Every rule runs and returns problems; nothing stops at the first one, so a pull
request gets all of its errors in one CI run. A file yields an `Entry` only if
it has no problems at all.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ecli import semver
from ecli.errors import ReferenceError_, SignatureError
from ecli.oci.reference import parse as parse_reference
from ecli.text import control_characters
from generator import schema, spdx
from generator.buildcache import Validations
from generator.entry import Entry, EntryVersion, Index
from generator.load import MAX_ENTRY_BYTES, Document, NodePath, load_file
from generator.problems import Problem, field_path

PACKAGES_DIR = "packages"
PARALLEL_FROM = 400  # files; below this, starting workers costs more than it saves
CHUNK = 250
FEATURED_FILE = "featured.yaml"
SCHEMA_DIR = "schema"
MAX_README_BYTES = 256 << 10


@dataclass(frozen=True)
class Context:
    """What rules need besides the document: where the file and its index live."""

    path: Path
    index_root: Path


@dataclass
class Result:
    index: Index
    problems: list[Problem] = field(default_factory=list)
    files: int = 0


Rule = Callable[[Document, Context], list[Problem]]


def validate_index(index_dir: Path, files: Iterable[Path] | None = None,
                   cache: Validations | None = None) -> Result:
    """Validate the whole index, or only the named entry files (plus cross-entry rules).

    With a cache, a file whose bytes (and README) hash as when it last passed
    gives its entry back without being checked again; every rule across
    entries (look-alike names, featured) still sees every entry.
    """
    schema_dir = index_dir / SCHEMA_DIR
    packages = index_dir / PACKAGES_DIR
    problems: list[Problem] = []
    if files is None:
        if not packages.is_dir():
            problems.append(Problem(str(packages), 1, 1, "", "no packages directory here",
                                    hint="pass --index pointing at the index folder",
                                    code="no-index"))
            return Result(Index({}), problems)
        chosen = sorted(packages.iterdir())
        problems.extend(_stray_files(chosen))
        chosen = [p for p in chosen if p.suffix == ".yaml" and p.is_file()]
    else:
        chosen = list(files)
    entries: dict[str, Entry] = {}
    for entry, found in _validate_cached(chosen, index_dir, schema_dir, cache):
        problems.extend(found)
        if entry is not None:
            entries[entry.name] = entry
    for problem in look_alikes(index_dir, entries):
        problems.append(problem)
        entries.pop(Path(problem.file).stem, None)
    featured: tuple[str, ...] = ()
    if files is None and (index_dir / FEATURED_FILE).exists():
        featured, found = _featured(index_dir / FEATURED_FILE, schema_dir, packages)
        problems.extend(found)
    return Result(Index(entries, featured), sorted(problems), len(chosen))


Checked = tuple[Entry | None, list[Problem], tuple[Path, ...]]
"""A file's entry (when valid), its problems, and the other files its entry was read from."""


def _check_file(path: Path, index_root: Path, schema_dir: Path) -> Checked:
    document, problems = load_file(path)
    if document is None:
        return None, problems, ()
    problems.extend(schema.check(document, schema_dir))
    context = Context(path, index_root)
    for rule in RULES:
        problems.extend(rule(document, context))
    if problems:
        return None, problems, ()
    readme = document.data.get("readme")
    return _entry(document, context), [], ((path.parent / readme,) if readme else ())


def _validate_cached(paths: list[Path], index_root: Path, schema_dir: Path,
                     cache: Validations | None) -> list[tuple[Entry | None, list[Problem]]]:
    """Every file, in order: from the cache when it holds the file's bytes, else checked."""
    if cache is None:
        return [(entry, found) for entry, found, _ in
                _validate_files(paths, index_root, schema_dir)]
    results: list[tuple[Entry | None, list[Problem]] | None] = []
    raws: dict[int, bytes] = {}
    missed: list[int] = []
    for number, path in enumerate(paths):
        try:
            with path.open("rb") as stream:
                raw = stream.read(MAX_ENTRY_BYTES + 1)
        except OSError:
            raw = None
        entry = cache.lookup(path, raw) if raw is not None else None
        results.append((entry, []) if entry is not None else None)
        if entry is None:
            missed.append(number)
            if raw is not None:
                raws[number] = raw
    checked = _validate_files([paths[n] for n in missed], index_root, schema_dir)
    for number, (entry, found, depends) in zip(missed, checked, strict=True):
        results[number] = (entry, found)
        if entry is not None and number in raws:
            cache.store(paths[number], raws[number], entry, depends)
    return [result for result in results if result is not None]


def _validate_files(paths: list[Path], index_root: Path, schema_dir: Path) -> list[Checked]:
    """Every file, in order; split between forked workers when there are many."""
    workers = min(os.cpu_count() or 1, 8)
    if len(paths) < PARALLEL_FROM or workers < 2:
        return [_check_file(path, index_root, schema_dir) for path in paths]
    chunks = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        done = pool.map(_validate_chunk, chunks, [index_root] * len(chunks),
                        [schema_dir] * len(chunks))
        return [result for chunk in done for result in chunk]


def _validate_chunk(paths: list[Path], index_root: Path, schema_dir: Path) -> list[Checked]:
    return [_check_file(path, index_root, schema_dir) for path in paths]


def _stray_files(paths: list[Path]) -> list[Problem]:
    problems = []
    for path in paths:
        if path.suffix == ".yml":
            problems.append(Problem(str(path), 1, 1, "", "entries end in .yaml, not .yml",
                                    hint=f"rename it to {path.stem}.yaml", code="file-name"))
    return problems


# --- rules: each gets the loaded document, checks what the schema cannot ------------


def rule_name_matches_file(document: Document, context: Context) -> list[Problem]:
    name = _get(document.data, "name")
    if isinstance(name, str) and name != context.path.stem:
        return [_problem(document, ("name",), f"name {name!r} does not match the file name "
                         f"{context.path.name!r}", code="name-file",
                         hint=f"name the file {name}.yaml, or set name: {context.path.stem}")]
    return []


def rule_versions_unique(document: Document, context: Context) -> list[Problem]:
    problems = []
    seen: dict[semver.Version, int] = {}
    for i, item in enumerate(_list(document.data, "versions")):
        text = _get(item, "version")
        key = semver.parse_published(text) if isinstance(text, str) else None
        if key is None:
            continue
        if key in seen:
            first = document.where(("versions", seen[key], "version")).line
            problems.append(_problem(document, ("versions", i, "version"),
                                     f"version {text!r} is listed twice (first on line {first})",
                                     code="duplicate-version",
                                     hint="each version appears once; publish a new version "
                                     "instead of editing an old one"))
        else:
            seen[key] = i
    return problems


def rule_refs(document: Document, context: Context) -> list[Problem]:
    problems = []
    for i, item in enumerate(_list(document.data, "versions")):
        text = _get(item, "ref")
        if not isinstance(text, str):
            continue
        path = ("versions", i, "ref")
        try:
            reference = parse_reference(text)
        except ReferenceError_ as exc:
            problems.append(_problem(document, path, exc.message, code="ref",
                                     hint=exc.hint or "write REGISTRY/REPOSITORY:TAG or "
                                     "REGISTRY/REPOSITORY@sha256:DIGEST"))
            continue
        if reference.digest is None and not text.rpartition("/")[2].count(":"):
            problems.append(_problem(document, path, f"{text!r} names neither a tag nor a "
                                     "digest", code="ref",
                                     hint=f"pin it, e.g. {text}:{_get(item, 'version')}"))
    return problems


def rule_urls(document: Document, context: Context) -> list[Problem]:
    problems = []
    for key in ("homepage", "source"):
        text = _get(document.data, key)
        if not isinstance(text, str):
            continue
        parts = urlsplit(text)
        if parts.scheme != "https":
            continue  # the schema already reported it
        if not parts.hostname or "." not in parts.hostname or parts.username:
            problems.append(_problem(document, (key,), f"{text!r} has no valid host name",
                                     code="url", hint="write e.g. https://github.com/org/tool"))
    return problems


def rule_readme(document: Document, context: Context) -> list[Problem]:
    text = _get(document.data, "readme")
    if not isinstance(text, str):
        return []
    target = (context.path.parent / text).resolve()
    root = context.index_root.resolve()
    if text.startswith("/") or not target.is_relative_to(root):
        return [_problem(document, ("readme",), f"{text!r} points outside the index",
                         code="readme", hint="keep the README inside the index folder")]
    if not target.is_file():
        return [_problem(document, ("readme",), f"{text!r} does not exist", code="readme",
                         hint="add the file to the pull request, or fix the path")]
    if target.stat().st_size > MAX_README_BYTES:
        return [_problem(document, ("readme",), f"{text!r} is larger than "
                         f"{MAX_README_BYTES >> 10} KiB", code="readme")]
    try:
        readme = target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return [_problem(document, ("readme",), f"{text!r} is not UTF-8", code="readme")]
    found = control_characters(readme)
    if found:
        line = readme.count("\n", 0, found[0][0]) + 1
        return [_problem(document, ("readme",), f"{text!r} holds {_listed(found)} "
                         f"(first on its line {line})", code="control-character",
                         hint=CONTROL_HINT)]
    return []


MULTILINE_FIELDS = frozenset({("description",), ("example",), ("signer", "key")})
CONTROL_HINT = ("remove it: text shown on the hub and in terminals may not recolour, move "
                "the cursor, ring, overwrite a line or reverse its direction")


def rule_control_characters(document: Document, context: Context) -> list[Problem]:
    """No control characters in any text of the entry: one problem per field that holds any.

    Every string value is walked, whatever the schema says of its field, so a
    field added later is covered too; keys need no walk, since the schema allows
    only known ones. Tab and newline are allowed in multi-line text only.
    """
    problems = []
    for path, text in _strings(document.data, ()):
        found = control_characters(text, multiline=path in MULTILINE_FIELDS)
        if found:
            problems.append(_problem(document, path, f"holds {_listed(found)}",
                                     code="control-character", hint=CONTROL_HINT))
    return problems


def _strings(data: Any, path: NodePath) -> Iterator[tuple[NodePath, str]]:
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _strings(value, (*path, i))


def _listed(found: list[tuple[int, str]]) -> str:
    """'the control character \\x1b', or '... characters \\x1b, \\x07', each named once."""
    names = list(dict.fromkeys(escaped for _, escaped in found))
    plural = "s" if len(names) > 1 else ""
    return f"the control character{plural} {', '.join(names)}"


def rule_license(document: Document, context: Context) -> list[Problem]:
    text = _get(document.data, "license")
    if not isinstance(text, str):
        return []
    problems = []
    for token, suggestion in spdx.unknown(text):
        hint = (f"did you mean {suggestion!r}?" if suggestion else
                "use an identifier from https://spdx.org/licenses/, or LicenseRef-NAME")
        problems.append(_problem(document, ("license",), f"{token!r} is not an SPDX license "
                                 "identifier", code="license", hint=hint))
    return problems


def rule_versions_ordered(document: Document, context: Context) -> list[Problem]:
    """Newest first, as the JSON index and the site list them: a reader sees the latest."""
    previous: tuple[str, semver.Version] | None = None
    for i, item in enumerate(_list(document.data, "versions")):
        text = _get(item, "version")
        version = semver.parse_published(text) if isinstance(text, str) else None
        if version is None:
            continue
        if previous is not None and previous[1] < version:
            return [_problem(document, ("versions", i, "version"),
                             f"version {text} is listed after the older {previous[0]}",
                             code="order", hint="list versions newest first")]
        previous = text, version
    return []


def rule_signer(document: Document, context: Context) -> list[Problem]:
    """A declared signer is a key that parses, or keyless, both a certificate identity and
    the https URL of its OIDC issuer (as cosign's --certificate-identity and
    --certificate-oidc-issuer, matched exactly), never both forms."""
    signer = _get(document.data, "signer")
    if not isinstance(signer, dict):
        return []
    if "identity" in signer or "issuer" in signer:
        return _keyless_problems(document, signer)
    text = _get(signer, "key")
    if not isinstance(text, str):
        return [_problem(document, ("signer",), "a signer needs a key", code="signer",
                         hint="signer: {key: <PEM public key>}")]
    from ecli.trust.keys import parse_public  # `cryptography`, only for signed entries

    try:
        parse_public(text.encode(), "signer.key")
    except SignatureError as exc:
        return [_problem(document, ("signer", "key"), exc.message, code="signer",
                         hint="paste the whole PEM block (-----BEGIN PUBLIC KEY----- ...) "
                         "of an ECDSA P-256 or ed25519 key")]
    return []


def _keyless_problems(document: Document, signer: dict[str, Any]) -> list[Problem]:
    hint = ("signer: {identity: https://github.com/ORG/REPO/.github/workflows/release.yml@"
            "refs/tags/v1.0.0, issuer: https://token.actions.githubusercontent.com}")
    if "key" in signer:
        return [_problem(document, ("signer", "key"), "a signer is a key or an identity with "
                         "its issuer, not both", code="signer", hint=hint)]
    for part in ("identity", "issuer"):
        value = signer.get(part)
        if not isinstance(value, str) or not value.strip():
            return [_problem(document, ("signer",), f"a keyless signer needs its {part}",
                             code="signer", hint=hint)]
    identity = signer["identity"]
    if "*" in identity.rpartition("@")[0] or ("*" in identity and "@" not in identity):
        return [_problem(document, ("signer", "identity"), "a wildcard (*) may only stand in "
                         "the ref after the identity's last @ (…/release.yml@refs/tags/v*)",
                         code="signer", hint=hint)]
    if not signer["issuer"].startswith("https://"):
        return [_problem(document, ("signer", "issuer"), "the OIDC issuer is an https URL",
                         code="signer", hint=hint)]
    return []


RULES: tuple[Rule, ...] = (
    rule_name_matches_file,
    rule_versions_unique,
    rule_versions_ordered,
    rule_refs,
    rule_urls,
    rule_readme,
    rule_license,
    rule_control_characters,
    rule_signer,
)


# --- rules across entries ------------------------------------------------------------

_LOOK_ALIKE = str.maketrans({"0": "o", "1": "l", "i": "l", "5": "s", "-": None, "_": None})


def skeleton(name: str) -> str:
    """What a name looks like: case, look-alike digits and letters, dashes folded away."""
    return name.lower().replace("rn", "m").replace("vv", "w").translate(_LOOK_ALIKE)


def look_alikes(index_dir: Path, entries: dict[str, Entry]) -> list[Problem]:
    """A name may not look like another package's (`0pensnoop`, `open-snoop`, `OpenSnoop`)."""
    packages = index_dir / PACKAGES_DIR
    names = {p.stem for p in packages.glob("*.yaml")} if packages.is_dir() else set()
    names |= set(entries)
    by_skeleton: dict[str, list[str]] = {}
    for name in sorted(names):
        by_skeleton.setdefault(skeleton(name), []).append(name)
    problems = []
    for name, entry in sorted(entries.items()):
        others = [n for n in by_skeleton[skeleton(name)] if n != name]
        if others:
            problems.append(Problem(entry.file, entry.name_line, entry.name_col, "name",
                                    f"{name!r} looks like the package {others[0]!r}",
                                    "choose a name that cannot be mistaken for another "
                                    "package's", code="look-alike"))
    return problems


def _featured(path: Path, schema_dir: Path, packages: Path) -> tuple[tuple[str, ...],
                                                                    list[Problem]]:
    document, problems = load_file(path)
    if document is None:
        return (), problems
    problems.extend(schema.check(document, schema_dir, schema.FEATURED_SCHEMA))
    if problems:
        return (), problems
    names = tuple(document.data["featured"])
    for i, name in enumerate(names):
        if not (packages / f"{name}.yaml").is_file():
            problems.append(_problem(document, ("featured", i), f"no package named {name!r}",
                                     code="featured", hint="list names of index/packages/*.yaml"))
    return names, problems


def _entry(document: Document, context: Context) -> Entry:
    data = document.data
    if "readme" in data:
        description = (context.path.parent / data["readme"]).read_text(encoding="utf-8")
    else:
        description = data.get("description", "")
    versions = sorted(
        (EntryVersion(version=v["version"], ref=v["ref"], reference=parse_reference(v["ref"]),
                      yanked=v.get("yanked"), requirements=v.get("requirements", {}),
                      line=document.where(("versions", i, "ref")).line,
                      col=document.where(("versions", i, "ref")).col)
         for i, v in enumerate(data["versions"])),
        key=lambda v: _published(v.version).key(), reverse=True,
    )
    name_at = document.where(("name",))
    return Entry(
        name=data["name"], file=document.file, name_line=name_at.line, name_col=name_at.col,
        summary=data["summary"], kind=data["kind"], test=data.get("test"),
        owners=tuple(data["owners"]), license=data["license"], description=description,
        example=data.get("example", ""),
        homepage=data.get("homepage"), source=data.get("source"),
        keywords=tuple(data.get("keywords", ())), categories=tuple(data.get("categories", ())),
        versions=tuple(versions), signer_key=(data.get("signer") or {}).get("key"),
        signer_identity=(data.get("signer") or {}).get("identity"),
        signer_issuer=(data.get("signer") or {}).get("issuer"),
    )


def _published(text: str) -> semver.Version:
    """A version the schema has already checked, parsed for ordering."""
    version = semver.parse_published(text)
    assert version is not None, text
    return version


def _get(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None


def _list(data: Any, key: str) -> list[Any]:
    value = _get(data, key)
    return value if isinstance(value, list) else []


def _problem(document: Document, path: NodePath, message: str, *, code: str,
             hint: str | None = None) -> Problem:
    position = document.where(path)
    return Problem(document.file, position.line, position.col, field_path(path), message,
                   hint, code)
