"""What a pull request changes: the index or code, never both, and never the lock.

The PR gate (.github/scripts/gate.sh) runs the BASE branch's generator on the
pull request's `index/` only. That holds only if an index PR brings no code
the gate would need to judge it, so a PR that changes files under `index/`
and anything else (the generator, ecli, the workflows, the schema under
`index/schema/`, which is code too) is refused as mixed. `index/lock.json`
is written by the publish workflow when a version is merged (its digest and
its date are the pins); no pull request may change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator import gitrepo
from generator.lock import LOCK_FILE
from generator.problems import Problem

CODE_IN_INDEX = ("schema/",)  # under the index folder, but judged as code


@dataclass(frozen=True)
class Scope:
    index: tuple[str, ...]  # changed entry data under the index folder
    code: tuple[str, ...]  # every other changed path


def check(index_dir: Path, base: str, head: str) -> tuple[Scope, list[Problem]]:
    """Classify the paths `head` changes from `base` (trees compared, renames as two paths)."""
    repo, prefix = gitrepo.repository(index_dir)
    gitrepo.commit(repo, base)
    gitrepo.commit(repo, head)
    out = gitrepo.run(repo, "diff", "--name-only", "--no-renames", "-z", base, head)
    paths = sorted(p for p in out.decode("utf-8", "replace").split("\0") if p)
    data = tuple(p for p in paths if p.startswith(prefix) and not any(
        p.startswith(prefix + inner) for inner in CODE_IN_INDEX))
    scope = Scope(data, tuple(p for p in paths if p not in data))
    problems = []
    if scope.index and scope.code:
        problems.append(Problem(
            scope.code[0], 1, 1, "", f"mixed pull request: it changes {len(scope.index)} "
            f"index file(s) ({scope.index[0]}) and {len(scope.code)} other file(s) "
            f"({scope.code[0]})", "split it: index/ changes are judged by the base branch's "
            "generator, code changes by the tests and reviewers", code="mixed"))
    lock_path = prefix + LOCK_FILE
    if lock_path in paths:
        problems.append(Problem(
            lock_path, 1, 1, "", f"{lock_path} is written by the publish workflow only; "
            "this pull request changes it", f"drop the change to {lock_path}: CI pins each "
            "version's digest and date when it is merged", code="lock"))
    return scope, problems
