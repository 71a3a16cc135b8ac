"""The user-space toolchains `ecli build` drives for kind `bundle` projects.

Each language is built its own way (make, go generate + go build, cargo, Maven,
npm + tsc), in the project folder, exactly as its README tells a developer to; this module
knows the commands, which platforms the toolchain can cross-compile for, and
where the outputs land, so that build.py only packs them. Steps never print:
the output of a failed step becomes the error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import BuildError
from ecli.oci.manifest import Platform

LANGUAGES = ("bpf", "c", "go", "rust", "python", "java", "typescript")
# Where installers put toolchains that are often not on root's PATH.
_EXTRA_PATHS = ("/usr/local/go/bin", str(Path.home() / ".cargo" / "bin"), "/usr/sbin", "/sbin")
_TAIL_LINES = 30
_DEBIAN = {"make": "make", "cc": "gcc", "clang": "clang", "bpftool": "bpftool",
           "go": "golang (or Go from go.dev)", "cargo": "cargo (or rustup)",
           "mvn": "maven and openjdk-17-jdk-headless", "npm": "nodejs and npm"}
_NPM_NAME = re.compile(r"^(@[a-z0-9~-][a-z0-9._~-]*/)?[a-z0-9~-][a-z0-9._~-]{0,213}$")
_MAVEN = ("mvn", "--batch-mode", "--quiet", "--no-transfer-progress", "-Dstyle.color=never")


@dataclass(frozen=True)
class Step:
    argv: tuple[str, ...]
    env: dict[str, str]


@dataclass(frozen=True)
class Language:
    """How one language builds, and what goes into the bundle from where."""

    name: str
    cross: tuple[str, ...]  # architectures the toolchain builds for besides the host

    def steps(self, name: str, platform: Platform, first: bool) -> list[Step]:
        if self.name in ("c", "python"):
            return [Step(("make",), {})] if first else []
        if self.name == "rust":
            return [Step(("cargo", "build", "--release"), {})] if first else []
        if self.name == "java":
            return [Step(("make",), {}), Step((*_MAVEN, "package"), {})] if first else []
        if self.name == "typescript":
            return [Step(("make",), {}), Step(("npm", "install", "--no-audit", "--no-fund"), {}),
                    Step(("npm", "run", "--silent", "build"), {})] if first else []
        if self.name == "go":
            generate = [Step(("go", "generate", "./..."), {})] if first else []
            out = f"build/{platform.os}-{platform.architecture}/{name}"
            return [*generate, Step(
                ("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, "."),
                {"CGO_ENABLED": "0", "GOOS": platform.os, "GOARCH": platform.architecture})]
        raise BuildError(f"language {self.name!r} has no build steps")

    def outputs(self, name: str, platform: Platform, root: Path) -> dict[str, str]:
        """Path inside the bundle -> path in the project `root`, for one platform."""
        if self.name == "c":
            return {f"bin/{name}": f"build/{name}"}
        if self.name == "go":
            return {f"bin/{name}": f"build/{platform.os}-{platform.architecture}/{name}"}
        if self.name == "rust":
            return {f"bin/{name}": f"target/release/{name}"}
        if self.name == "python":
            return {f"bin/{name}": "src/main.py", "lib/probe.bpf.o": "build/probe.bpf.o"}
        if self.name == "java":  # the jar and its dependencies, run by the host's java
            return {f"bin/{name}": "scripts/launch.sh", "lib/probe.bpf.o": "build/probe.bpf.o",
                    **_tree(root, "target/lib", "lib")}
        if self.name == "typescript":  # bin/NAME finds node_modules/ one folder up
            files = {f"bin/{name}": "dist/main.js", "lib/probe.bpf.o": "build/probe.bpf.o"}
            for package in _node_runtime(root):
                files.update(_tree(root, f"node_modules/{package}", f"node_modules/{package}"))
            return files
        raise BuildError(f"language {self.name!r} makes no bundle")


def _tree(root: Path, folder: str, inside: str) -> dict[str, str]:
    """Every file under root/folder (symlinks to files included), as inside/...."""
    base = root / folder
    if not base.is_dir():
        raise BuildError(f"the build did not produce {base}",
                         hint=f"it goes into the bundle as {inside}/")
    return {f"{inside}/{path.relative_to(base).as_posix()}": path.relative_to(root).as_posix()
            for path in sorted(base.rglob("*")) if path.is_file()}


def _node_runtime(root: Path) -> list[str]:
    """The packages `dependencies` needs at run time (not devDependencies such as tsc).

    npm installs every package at the top of node_modules unless versions clash (then
    inside the package that needs it, which is copied whole), so the closure is followed
    there; an optional dependency counts only when installed (koffi's one prebuilt binary
    for this platform).
    """
    modules = root / "node_modules"
    wanted = _package_names(root / "package.json", "dependencies")
    found: list[str] = []
    while wanted:
        package = wanted.pop()
        manifest = modules / package / "package.json"
        if package in found:
            continue
        if not manifest.is_file():
            raise BuildError(f"{root / 'package.json'}: dependency {package} is not installed "
                             f"in {modules}", hint="run npm install")
        found.append(package)
        wanted += _package_names(manifest, "dependencies")
        wanted += [name for name in _package_names(manifest, "optionalDependencies")
                   if (modules / name / "package.json").is_file()]
    return sorted(found)


def _package_names(manifest: Path, table: str) -> list[str]:
    """The package names in one table of a package.json."""
    try:
        value = json.loads(manifest.read_text()).get(table)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise BuildError(f"cannot read {manifest}: {exc}") from None
    names = sorted(value) if isinstance(value, dict) else []
    for name in names:  # a name is a folder under node_modules: no '..', no '/x'
        if not _NPM_NAME.match(name):
            raise BuildError(f"{manifest}: {table}: {name!r} is not an npm package name")
    return names


_LANGUAGES = {
    "c": Language("c", ()),
    "go": Language("go", ("amd64", "arm64")),
    "rust": Language("rust", ()),
    "python": Language("python", ()),
    "java": Language("java", ()),
    "typescript": Language("typescript", ()),
}


def language(name: str) -> Language:
    try:
        return _LANGUAGES[name]
    except KeyError:
        raise BuildError(f"no bundle builder for language {name!r}",
                         hint=f"one of: {', '.join(sorted(_LANGUAGES))}") from None


def detect(root: Path) -> str:
    """Guess the language of a bundle project from its files."""
    if (root / "go.mod").is_file():
        return "go"
    if (root / "Cargo.toml").is_file():
        return "rust"
    if (root / "src" / "main.py").is_file():
        return "python"
    if (root / "pom.xml").is_file():
        return "java"
    if (root / "package.json").is_file() and (root / "tsconfig.json").is_file():
        return "typescript"
    if (root / "Makefile").is_file():
        return "c"
    raise BuildError(f"{root}: cannot tell how to build this project",
                     hint='set [build] language = "c", "go", "rust", "python", "java" or '
                          '"typescript" in ecli.toml')


def search_path() -> str:
    extra = [p for p in _EXTRA_PATHS if Path(p).is_dir()]
    return os.pathsep.join([os.environ.get("PATH", "/usr/bin:/bin"), *extra])


def run(step: Step, cwd: Path) -> str:
    """Run one step in `cwd`; return its output, or raise with its tail."""
    path = search_path()
    tool = shutil.which(step.argv[0], path=path)
    if tool is None:
        raise BuildError(f"{step.argv[0]} is not installed (needed to build {cwd.name})",
                         hint=f"install {_DEBIAN.get(step.argv[0], step.argv[0])}")
    env = {**os.environ, "PATH": path, **step.env}
    result = subprocess.run([tool, *step.argv[1:]], cwd=cwd, env=env, capture_output=True,
                            text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-_TAIL_LINES:])
        raise BuildError(f"{' '.join(step.argv)} failed in {cwd} (exit {result.returncode}):"
                         f"\n{tail}")
    return output
