"""Rules about a change, not a file: who may change an entry, and what may never change.

`python -m generator check-pr --base REF --author LOGIN` compares the index at
the pull request's base (read with git) with the working tree:

- only an entry's owners (at the base) may change or delete it;
- a new entry must list its author among its owners;
- a published version is immutable: it cannot be deleted (only yanked), and
  its digest cannot change, whether through a new ref or a moved tag; the
  problem shows both digests.

Digests are compared through the lock files at the base and in the working
tree (CI runs `resolve` first); when the new lock lacks a version, a changed
ref counts as a change unless it pins the old digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import gitrepo
from generator import lock as lockfile
from generator.load import Document, load_bytes
from generator.lock import Lock
from generator.problems import Problem

PACKAGES = "packages"


@dataclass(frozen=True)
class Change:
    changed: int
    added: int
    removed: int


def check(index_dir: Path, base: str, author: str, lock_file: Path) -> tuple[Change,
                                                                            list[Problem]]:
    repo, prefix = gitrepo.repository(index_dir)
    old_files = _base_files(repo, base, f"{prefix}{PACKAGES}/")
    lock_path = lock_file.resolve()
    old_lock = _base_lock(repo, base, lock_path.relative_to(repo).as_posix()
                          if lock_path.is_relative_to(repo) else "")
    new_lock = lockfile.read(lock_file)
    problems: list[Problem] = []
    packages = index_dir / PACKAGES
    new_paths = {p.name: p for p in sorted(packages.glob("*.yaml"))} if packages.is_dir() else {}
    changed = added = removed = 0
    login = author.lower()
    for name, old_raw in old_files.items():
        path = new_paths.get(name)
        shown = str(packages / name)
        old, _ = load_bytes(old_raw, f"{base}:{name}")
        old_owners = _owners(old)
        if path is None:
            removed += 1
            problems.append(Problem(shown, 1, 1, "", "a published package cannot be deleted",
                                    "mark its versions `yanked: REASON` instead",
                                    code="immutable"))
            continue
        new_raw = path.read_bytes()
        if new_raw == old_raw:
            continue
        changed += 1
        new, _ = load_bytes(new_raw, shown)
        if login not in old_owners:
            where = new.where(("owners",)) if new else None
            problems.append(Problem(
                shown, where.line if where else 1, where.col if where else 1, "owners",
                f"{author} is not an owner of {Path(name).stem} (owners: "
                f"{', '.join(sorted(old_owners)) or 'none'})",
                "ask an owner to make this change, or to add you to owners first",
                code="owner"))
        if old is not None and new is not None:
            problems.extend(_immutable(old, new, Path(name).stem, old_lock, new_lock))
    for name, path in new_paths.items():
        if name in old_files:
            continue
        added += 1
        new, _ = load_bytes(path.read_bytes(), str(path))
        if new is not None and login not in _owners(new):
            where = new.where(("owners",))
            problems.append(Problem(str(path), where.line, where.col, "owners",
                                    f"a new package must list its author ({author}) among "
                                    "its owners", f"add {author} to owners", code="owner"))
    return Change(changed, added, removed), sorted(problems)


def _immutable(old: Document, new: Document, package: str, old_lock: Lock,
               new_lock: Lock) -> list[Problem]:
    problems = []
    new_versions = {item.get("version"): (i, item) for i, item in enumerate(_versions(new))}
    for item in _versions(old):
        version = item.get("version")
        if not isinstance(version, str):
            continue
        if version not in new_versions:
            where = new.where(("versions",))
            problems.append(Problem(new.file, where.line, where.col, "versions",
                                    f"published version {version} was deleted",
                                    f"keep it and add `yanked: REASON` to {version}",
                                    code="immutable"))
            continue
        i, now = new_versions[version]
        before = old_lock.get(package, {}).get(version)
        after = new_lock.get(package, {}).get(version)
        where = new.where(("versions", i, "ref"))
        field = f"versions[{i}].ref"
        if before is not None and after is not None and after.ref == now.get("ref"):
            if before.digest != after.digest:
                problems.append(Problem(
                    new.file, where.line, where.col, field,
                    f"{package} {version} was published as {before.digest}; it now resolves "
                    f"to {after.digest} (the tag moved or the ref changed)",
                    "publish the new content as a new version; published versions never "
                    "change", code="immutable"))
        elif now.get("ref") != item.get("ref"):
            pinned = before is not None and str(now.get("ref", "")).endswith(
                "@" + before.digest)
            if not pinned:
                problems.append(Problem(
                    new.file, where.line, where.col, field,
                    f"the ref of published version {version} changed from "
                    f"{item.get('ref')!r} to {now.get('ref')!r}",
                    "revert it, or pin the same digest (REPOSITORY@sha256:...)",
                    code="immutable"))
    return problems


def _versions(document: Document) -> list[dict[str, Any]]:
    data = document.data
    items = data.get("versions") if isinstance(data, dict) else None
    return [v for v in items if isinstance(v, dict)] if isinstance(items, list) else []


def _owners(document: Document | None) -> set[str]:
    data = document.data if document is not None else None
    owners = data.get("owners") if isinstance(data, dict) else None
    return {o.lower() for o in owners if isinstance(o, str)} if isinstance(owners,
                                                                          list) else set()


def _base_files(repo: Path, base: str, folder: str) -> dict[str, bytes]:
    gitrepo.commit(repo, base)
    names = gitrepo.run(repo, "ls-tree", "-r", "--name-only", base, "--",
                        folder).decode().split("\n")
    return {Path(n).name: gitrepo.run(repo, "show", f"{base}:{n}")
            for n in names if n.endswith(".yaml") and "/" not in n[len(folder):]}


def _base_lock(repo: Path, base: str, path: str) -> Lock:
    if not path:
        return {}
    listed = gitrepo.run(repo, "ls-tree", "--name-only", base, "--", path).decode().strip()
    if not listed:
        return {}
    return lockfile.parse(gitrepo.run(repo, "show", f"{base}:{path}"), f"{base}:{path}")
