"""Git, read-only, for the rules about a change: the base revision is read with git.

One place runs git so every rule that compares a pull request with its base
reports git's own failures the same way (a problem naming the repository).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from generator.problems import GeneratorError, Problem


def run(repo: Path, *args: str) -> bytes:
    """git's standard output; a failure is a `git` problem with git's last line."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                              check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(str(repo), f"cannot run git: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise error(str(repo), f"git {' '.join(args[:2])} failed: "
                    f"{message[-1] if message else done.returncode}")
    return done.stdout


def repository(index_dir: Path) -> tuple[Path, str]:
    """The repository's top folder, and the index folder's path in it ("" or "index/")."""
    top = Path(run(index_dir, "rev-parse", "--show-toplevel").decode().strip())
    relative = index_dir.resolve().relative_to(top.resolve()).as_posix()
    return top.resolve(), "" if relative == "." else relative + "/"


def commit(repo: Path, revision: str) -> None:
    """Fail early, naming the revision, when it is not a commit here."""
    run(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")


def error(where: str, message: str) -> GeneratorError:
    return GeneratorError([Problem(where, 1, 1, "", message, code="git",
                                   hint="run it inside the index's Git repository with the "
                                   "base revision fetched (actions/checkout fetch-depth: 0)")])
