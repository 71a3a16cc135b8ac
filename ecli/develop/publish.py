"""`ecli publish`: prepare the pull request that registers a version in the hub's index.

In a git checkout of the index repository it writes or updates
`index/packages/NAME.yaml` with the project's new version, runs the hub's own
validation (`python -m generator validate`, the generator's rules, not a copy
of them), and commits the change on a new branch. The reference is pinned to
the digest the registry holds for it, after checking that the tag exists, that
its package config names this version, and that it is the local build's
digest when the build holds that version: the entry names exactly the bytes
that were pushed, never a tag nobody pushed.

Nothing is half-done: if validation or the commit fails, the entry file is put
back as it was and no branch is left behind. An existing entry is edited as
text (the new version is inserted at the top of `versions:`), so comments and
layout survive and the pull request's diff is the new version only.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ecli.develop.build import Project, load_project
from ecli.errors import BuildError, PublishError, UsageError
from ecli.oci import reference as references
from ecli.oci.registry import published_version
from ecli.oci.store import Store

_VALIDATE_TAIL = 20
_SUMMARY_MAX = 200
_GIT_IDENTITY = {"user.name": "ecli publish", "user.email": "ecli-publish@localhost"}


@dataclass(frozen=True)
class PublishResult:
    entry: Path
    created: bool  # a new package, rather than a new version of one
    ref: str
    branch: str
    commit: str
    pr_command: list[str]
    pr_opened: bool = False
    pr_output: str = ""


def publish(project_dir: Path, checkout: Path, ref_text: str, *, pin: bool = True,
            branch: str | None = None, open_pr: bool = True) -> PublishResult:
    """Add the project's version to `checkout`'s index on a new branch."""
    project = load_project(project_dir)
    config = project.config
    top = _git_top(checkout)
    packages = top / "index" / "packages"
    if not packages.is_dir():
        raise PublishError(f"{checkout}: no index/packages/ folder: not a checkout of the "
                           "hub's index", hint="clone the index repository and pass its folder")
    if not project.license:
        raise BuildError(f"{project.root / 'ecli.toml'}: package.license is needed to publish "
                         "(an SPDX identifier)")
    entry = packages / f"{config.name}.yaml"
    branch = branch or f"publish/{config.name}-{config.version}"
    if _git(top, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)[0] == 0:
        raise PublishError(f"{top}: branch {branch} already exists",
                           hint="delete it, or pass --branch NAME")
    if _git(top, "status", "--porcelain", "--", str(entry))[1].strip():
        raise PublishError(f"{entry} has uncommitted changes", hint="commit or discard them first")
    ref = _reference(project, ref_text, pin)  # the registry is asked after local checks
    original = entry.read_text() if entry.exists() else None
    text = _add_version(original, entry, project, ref) if original is not None \
        else _new_entry(project, ref)
    previous_branch = _git(top, "rev-parse", "--abbrev-ref", "HEAD")[1].strip()
    entry.write_text(text)
    try:
        _validate(top, entry)
        _git(top, "switch", "--quiet", "-c", branch)
        try:
            _git(top, "add", "--", str(entry))
            message = (f"Add {config.name} {config.version}" if original is None
                       else f"{config.name}: add version {config.version}")
            _git(top, *_identity_flags(top), "commit", "--quiet", "-m", message,
                 "--", str(entry))
        except PublishError:
            _git(top, "reset", "--quiet", "--", str(entry), check=False)
            _git(top, "switch", "--quiet", previous_branch, check=False)
            _git(top, "branch", "-D", branch, check=False)
            raise
    except BaseException:
        if original is None:
            entry.unlink(missing_ok=True)
        else:
            entry.write_text(original)
        raise
    commit = _git(top, "rev-parse", "HEAD")[1].strip()
    title = f"{config.name} {config.version}"
    body = f"Registers {config.name} {config.version}: {ref}\n\nMade with `ecli publish`."
    command = ["gh", "pr", "create", "--head", branch, "--title", title, "--body", body]
    result = PublishResult(entry, original is None, ref, branch, commit, command)
    if open_pr and shutil.which("gh"):
        return _open_pr(top, result)
    return result


def _reference(project: Project, ref_text: str, pin: bool) -> str:
    """The ref to record, checked against its registry first: it must exist and hold
    this version (and, when the project's build holds it too, the same bytes), so no
    entry names a tag nobody pushed. Pinned to the registry's digest unless `pin` is off."""
    ref = references.parse(ref_text)
    version = project.config.version
    last = ref_text.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:  # parse() would have made it :latest
        raise UsageError(f"{ref_text!r} names neither a tag nor a digest",
                         hint=f"add the version as the tag: {ref_text}:{version}")
    push = f"ecli push {ref_text.split('@')[0]} --dir {project.root}"
    found = published_version(ref)
    if found is None:
        raise PublishError(f"{ref_text}: the registry has no such "
                           f"{'digest' if ref.digest and not ref.tag else 'tag'}",
                           hint=f"build and push this version first: {push}")
    digest, published = found
    if published is not None and published != version:
        raise PublishError(f"{ref_text}: the registry's artifact is version {published}, "
                           f"but {project.root / 'ecli.toml'} says {version}",
                           hint=f"name the tag of version {version}, or push it: {push}")
    store = Store(project.layout_dir)
    built = store.resolve_ref(version) if store.exists() else None
    if built and built != digest:
        raise PublishError(f"{ref_text}: the registry holds {digest}, but this project's "
                           f"build of {version} is {built}",
                           hint=f"push the build again: {push}")
    if pin and not ref.digest:
        ref = references.OciReference(ref.registry, ref.repository, ref.tag, digest)
    return str(ref)


def _new_entry(project: Project, ref: str) -> str:
    config = project.config
    meta = project.index
    lines = [f"# The registry of record for {config.name}. Format: docs/index-format.md",
             f"name: {config.name}",
             f"kind: {config.kind}",
             f"summary: {_quote(_summary(config.description or config.name))}"]
    if config.description and config.description != _summary(config.description):
        lines.append(f"description: {_quote(config.description)}")
    lines.append(f"owners: {_flow(_strings(meta, 'owners', project) or ['your-github-handle'])}")
    lines.append(f"license: {_quote(project.license or '')}")
    for key in ("homepage", "source"):
        if meta.get(key):
            lines.append(f"{key}: {_quote(str(meta[key]))}")
    for key in ("keywords", "categories"):
        if values := _strings(meta, key, project):
            lines.append(f"{key}: {_flow(values)}")
    lines.append("versions:")
    lines += _version_item(project, ref, "  ")
    return "\n".join(lines) + "\n"


def _add_version(text: str, entry: Path, project: Project, ref: str) -> str:
    version = project.config.version
    if re.search(rf"^\s*-?\s*version:\s*[\"']?{re.escape(version)}[\"']?\s*$", text, re.M):
        raise PublishError(f"{entry} already lists version {version}",
                           hint="bump package.version in ecli.toml, build and push again")
    match = re.search(r"^versions:[ \t]*\n", text, re.M)
    if match is None:
        raise PublishError(f"{entry}: no top-level `versions:` block to add {version} to")
    following = text[match.end():]
    indent = re.match(r"([ \t]*)-", following)
    item = _version_item(project, ref, indent.group(1) if indent else "  ")
    return text[:match.end()] + "\n".join(item) + "\n" + following


def _version_item(project: Project, ref: str, indent: str) -> list[str]:
    req = project.config.requirements
    lines = [f"{indent}- version: {_quote(project.config.version)}",
             f"{indent}  ref: {ref}",
             f"{indent}  requirements:"]
    if req.min_kernel:
        lines.append(f"{indent}    min_kernel: {_quote(req.min_kernel)}")
    lines.append(f"{indent}    btf: {'true' if req.btf else 'false'}")
    for key, values in (("features", req.features), ("program_types", req.program_types),
                        ("capabilities", req.capabilities)):
        if values:
            lines.append(f"{indent}    {key}: {_flow(list(values))}")
    return lines


def _summary(description: str) -> str:
    first = description.strip().splitlines()[0] if description.strip() else ""
    return first if len(first) <= _SUMMARY_MAX else first[:_SUMMARY_MAX - 1] + "…"


def _strings(meta: dict[str, object], key: str, project: Project) -> list[str]:
    value = meta.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BuildError(f"{project.root / 'ecli.toml'}: index.{key} must be a list of strings")
    return value


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _flow(values: list[str]) -> str:
    return "[" + ", ".join(_quote(v) for v in values) + "]"


def _validate(top: Path, entry: Path) -> None:
    """The hub's own rules, from the checkout's generator."""
    command = [sys.executable, "-m", "generator", "validate", "--index", str(top / "index"),
               str(entry)]
    result = subprocess.run(command, cwd=top, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        raise PublishError(f"the index's validation refused {entry.name}:\n"
                           + "\n".join(output[-_VALIDATE_TAIL:]),
                           hint="fix ecli.toml ([package], [index]) and publish again")


def _git_top(folder: Path) -> Path:
    if not folder.is_dir():
        raise PublishError(f"{folder}: no such folder", hint="pass a checkout of the index")
    code, out, err = _git(folder, "rev-parse", "--show-toplevel", check=False)
    if code != 0:
        raise PublishError(f"{folder}: not a git checkout ({err.strip() or 'git failed'})")
    return Path(out.strip())


def _identity_flags(top: Path) -> list[str]:
    """Commit as ecli when git has no identity configured (CI, fresh machines)."""
    flags = []
    for key, fallback in _GIT_IDENTITY.items():
        if _git(top, "config", key, check=False)[0] != 0:
            flags += ["-c", f"{key}={fallback}"]
    return flags


def _git(top: Path, *args: str, check: bool = True) -> tuple[int, str, str]:
    git = shutil.which("git")
    if git is None:
        raise PublishError("git is not installed", hint="apt-get install git")
    result = subprocess.run([git, "-C", str(top), *args], capture_output=True, text=True,
                            check=False)
    if check and result.returncode != 0:
        raise PublishError(f"git {' '.join(args[:2])} failed in {top}: "
                           f"{(result.stderr or result.stdout).strip()}")
    return result.returncode, result.stdout, result.stderr


def _open_pr(top: Path, result: PublishResult) -> PublishResult:
    _git(top, "push", "--quiet", "-u", "origin", result.branch)
    done = subprocess.run(result.pr_command, cwd=top, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise PublishError(f"gh pr create failed: {(done.stderr or done.stdout).strip()}",
                           hint=f"the commit is on branch {result.branch}; open the PR by hand")
    return PublishResult(result.entry, result.created, result.ref, result.branch, result.commit,
                         result.pr_command, True, done.stdout.strip())
