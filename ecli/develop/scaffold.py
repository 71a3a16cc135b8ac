"""`ecli init`: write a new project from one of the templates shipped in ecli/templates/.

A template is a folder with a `template.toml` (what it makes, how it builds and
runs, text for the shared README and workflow) and the files to copy. Files
shared by every template live once in `_shared/` and are placed where each
template's `[shared]` table says (the eBPF program, the object-only Makefile,
the bundle and object Dockerfiles) or at the same path (README, LICENSE, workflow, smoke
test). Placeholders are `{{key}}`, replaced in file contents and names; a `dot-`
prefix becomes `.` and a `.tmpl` suffix is dropped, so package data holds no
dotfiles and no modules of its own.

Nothing is half-written: the project is rendered into a temporary sibling folder
and renamed into place at the end.
"""

from __future__ import annotations

import datetime
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import UsageError
from ecli.oci.config import NAME_PATTERN

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
SHARED = "_shared"
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_EXECUTABLE_SUFFIXES = (".sh",)
# Shared files that only templates naming them in [shared] get (the others build differently).
_PLACED_ONLY = ("probe.bpf.c", "object.mk", "bundle.Dockerfile", "object.Dockerfile")


@dataclass(frozen=True)
class Template:
    name: str
    root: Path
    summary: str
    kind: str
    languages: str
    settings: dict[str, object]


@dataclass(frozen=True)
class InitResult:
    template: Template
    root: Path
    files: tuple[str, ...]
    run_command: str  # how to run the natively built tool, for the "next:" hint


def templates() -> list[Template]:
    """Every template shipped with ecli, in a stable order (kernel-only first)."""
    found = []
    for folder in sorted(TEMPLATES_DIR.iterdir()):
        spec = folder / "template.toml"
        if folder.name.startswith("_") or not spec.is_file():
            continue
        data = tomllib.loads(spec.read_text())
        found.append(Template(folder.name, folder, data["summary"], data["kind"],
                              data["languages"], data))
    found.sort(key=lambda t: (t.kind != "bpf", t.name))
    return found


def get(name: str) -> Template:
    for template in templates():
        if template.name == name:
            return template
    known = ", ".join(t.name for t in templates())
    raise UsageError(f"unknown template {name!r}", hint=f"choose one of: {known}")


def init(target: Path, template_name: str, *, name: str | None = None,
         description: str | None = None, owner: str = "your-github-handle") -> InitResult:
    """Render `template_name` into `target` (a new or empty folder)."""
    template = get(template_name)
    name = name or target.name
    if not NAME_PATTERN.match(name):
        raise UsageError(f"{name!r} is not a valid package name",
                         hint="use 1-63 of a-z, 0-9 and '-', starting and ending with a "
                              "letter or digit (or pass --name)")
    description = description or f"Trace openat() calls: which process opened which file ({name})"
    if any(c in description for c in '"\\') or not description.isprintable():
        raise UsageError("the description must be one line without quotes or backslashes")
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})", owner):
        raise UsageError(f"{owner!r} is not a GitHub handle")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} already exists and is not an empty folder",
                         hint="choose a new folder name")
    values = {
        "name": name,
        "ident": name.replace("-", "_"),
        "description": description,
        "owner": owner,
        "year": str(datetime.date.today().year),
        "template": template.name,
        **{k: str(v) for k, v in template.settings.items() if isinstance(v, str)},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        written = _render(template, values, staging)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return InitResult(template, target, tuple(sorted(written)),
                      _substitute(values.get("run", ""), values))


def _render(template: Template, values: dict[str, str], out: Path) -> list[str]:
    shared_dir = TEMPLATES_DIR / SHARED
    placed = template.settings.get("shared", {})
    assert isinstance(placed, dict)
    sources: dict[str, Path] = {}
    for path in sorted(shared_dir.rglob("*")):
        if path.is_file():
            relative = path.relative_to(shared_dir).as_posix()
            sources[str(placed.get(relative, relative))] = path
    for relative in placed:
        if not (shared_dir / relative).is_file():
            raise UsageError(f"template {template.name}: shared file {relative} is missing")
    for path in sorted(template.root.rglob("*")):
        if path.is_file() and path.name != "template.toml":
            sources[path.relative_to(template.root).as_posix()] = path
    written = []
    for relative, source in sources.items():
        if source.parent == shared_dir and source.name in _PLACED_ONLY \
                and source.name not in placed:
            continue  # a shared program or Makefile only goes where a template places it
        destination = _destination(relative, values)
        target = out / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        text = _substitute(source.read_text(), values)
        if destination == ".gitignore":
            text += values.get("gitignore", "")
        target.write_text(text)
        if source.suffix in _EXECUTABLE_SUFFIXES:
            target.chmod(0o755)
        written.append(destination)
    return written


def _destination(relative: str, values: dict[str, str]) -> str:
    parts = []
    for part in _substitute(relative, values).split("/"):
        if part.startswith("dot-"):
            part = "." + part[4:]
        parts.append(part.removesuffix(".tmpl"))
    return "/".join(parts)


def _substitute(text: str, values: dict[str, str]) -> str:
    """Replace known `{{key}}`s only: `${{ github.x }}` in workflows stays as it is."""
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        return _substitute(values[key], values) if key in values else match.group(0)
    return _PLACEHOLDER.sub(replace, text)
