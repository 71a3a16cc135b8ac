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
from ecli.oci.manifest import Platform, host_platform

LANGUAGES = ("bpf", "c", "go", "rust", "python", "java", "typescript")
# Where installers put toolchains that are often not on root's PATH.
_EXTRA_PATHS = ("/usr/local/go/bin", str(Path.home() / ".cargo" / "bin"), "/usr/sbin", "/sbin")
_TAIL_LINES = 30
_DEBIAN = {"aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu and libbpf-dev:arm64, "
           "libelf-dev:arm64, zlib1g-dev:arm64 (dpkg --add-architecture arm64)",
           "x86_64-linux-gnu-gcc": "gcc-x86-64-linux-gnu and libbpf-dev:amd64, "
           "libelf-dev:amd64, zlib1g-dev:amd64 (dpkg --add-architecture amd64)",
           "make": "make", "cc": "gcc", "clang": "clang", "bpftool": "bpftool",
           "go": "golang (or Go from go.dev)", "cargo": "cargo (or rustup)",
           "mvn": "maven and openjdk-17-jdk-headless", "npm": "nodejs and npm"}
_NPM_NAME = re.compile(r"^(@[a-z0-9~-][a-z0-9._~-]*/)?[a-z0-9~-][a-z0-9._~-]{0,213}$")
_MAVEN = ("mvn", "--batch-mode", "--quiet", "--no-transfer-progress", "-Dstyle.color=never")


@dataclass(frozen=True)
class Cross:
    """How Debian's cross toolchains name one target architecture."""

    gnu: str  # the GNU triplet: aarch64-linux-gnu-gcc, /usr/lib/aarch64-linux-gnu
    rust: str  # the Rust target: aarch64-unknown-linux-gnu
    bpf: str  # the __TARGET_ARCH_* libbpf's bpf_tracing.h expects

    @property
    def gcc(self) -> str:
        return f"{self.gnu}-gcc"


# The architectures C and Rust bundles cross-build for (gcc-aarch64-linux-gnu, multiarch
# libbpf-dev:arm64, libelf-dev:arm64, zlib1g-dev:arm64, rustup's aarch64 target).
CROSS = {"amd64": Cross("x86_64-linux-gnu", "x86_64-unknown-linux-gnu", "x86"),
         "arm64": Cross("aarch64-linux-gnu", "aarch64-unknown-linux-gnu", "arm64")}


@dataclass(frozen=True)
class Step:
    argv: tuple[str, ...]
    env: dict[str, str]
    needs: tuple[str, ...] = ()  # other programs it runs (a cross compiler), checked first


@dataclass(frozen=True)
class Language:
    """How one language builds, and what goes into the bundle from where."""

    name: str
    cross: tuple[str, ...]  # architectures the toolchain builds for besides the host

    def steps(self, name: str, platform: Platform, first: bool) -> list[Step]:
        """The commands for `platform` (cross-built unless the host's); `first`: the
        first platform, for steps that build every platform at once."""
        cross = None if platform == host_platform() else CROSS[platform.architecture]
        if self.name == "c":
            if cross is None:
                return [Step(("make",), {})]
            return [Step(("make", f"ARCH={cross.bpf}", f"CC={cross.gcc}",
                          f"OUTPUT=build/{platform.os}-{platform.architecture}"), {},
                         (cross.gcc,))]
        if self.name == "python":
            return [Step(("make",), {})] if first else []
        if self.name == "rust":
            if cross is None:
                return [Step(("cargo", "build", "--release"), {})]
            return [Step(("cargo", "build", "--release", "--target", cross.rust),
                         _cargo_cross_env(cross), (cross.gcc,))]
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
        host = platform == host_platform()
        if self.name == "c":
            folder = "build" if host else f"build/{platform.os}-{platform.architecture}"
            return {f"bin/{name}": f"{folder}/{name}"}
        if self.name == "go":
            return {f"bin/{name}": f"build/{platform.os}-{platform.architecture}/{name}"}
        if self.name == "rust":
            folder = "target" if host else f"target/{CROSS[platform.architecture].rust}"
            return {f"bin/{name}": f"{folder}/release/{name}"}
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


def _cargo_cross_env(cross: Cross) -> dict[str, str]:
    """Cargo's linker, the C compiler libbpf-sys builds libbpf with, and pkg-config reading
    the target's multiarch folder (libelf, zlib) instead of the host's."""
    target = cross.rust.upper().replace("-", "_")
    pkgconfig = f"/usr/lib/{cross.gnu}/pkgconfig:/usr/share/pkgconfig"
    return {f"CARGO_TARGET_{target}_LINKER": cross.gcc,
            f"CC_{cross.rust.replace('-', '_')}": cross.gcc,
            "PKG_CONFIG_ALLOW_CROSS": "1", "PKG_CONFIG_LIBDIR": pkgconfig,
            "PKG_CONFIG_SYSROOT_DIR": "/"}


def _remapped_rustflags(env: dict[str, str], cwd: Path) -> dict[str, str]:
    """`env` with the user's rustc flags (CARGO_ENCODED_RUSTFLAGS, else RUSTFLAGS) plus
    path remaps, 0x1f-separated so that folders may hold spaces: rustc writes source
    paths into the binary (panic locations) of the project's crate and CARGO_HOME's,
    which would make the same sources differ by folder and by user (Go's -trimpath)."""
    env = dict(env)
    encoded = env.get("CARGO_ENCODED_RUSTFLAGS")
    flags = encoded.split("\x1f") if encoded else env.pop("RUSTFLAGS", "").split()
    cargo_home = env.get("CARGO_HOME") or str(Path.home() / ".cargo")
    flags += [f"--remap-path-prefix={cwd}=.", f"--remap-path-prefix={cargo_home}=/cargo"]
    env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(flag for flag in flags if flag)
    return env


def _check_rust_target(target: str, cwd: Path, env: dict[str, str]) -> None:
    """Cargo's own error for a missing standard library is a page of `can't find crate`."""
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], cwd=cwd, env=env,
                             capture_output=True, text=True, check=False).stdout.strip()
    if sysroot and not (Path(sysroot) / "lib" / "rustlib" / target).is_dir():
        raise BuildError(f"Rust's standard library for {target} is not installed in "
                         f"{sysroot} (needed to build {cwd.name})",
                         hint=f"rustup target add {target}")


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
    "c": Language("c", tuple(CROSS)),
    "go": Language("go", ("amd64", "arm64")),
    "rust": Language("rust", tuple(CROSS)),
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
    for program in step.needs:
        if shutil.which(program, path=path) is None:
            raise BuildError(f"{program} is not installed (needed to build {cwd.name})",
                             hint=f"install {_DEBIAN.get(program, program)}")
    tool = shutil.which(step.argv[0], path=path)
    if tool is None:
        raise BuildError(f"{step.argv[0]} is not installed (needed to build {cwd.name})",
                         hint=f"install {_DEBIAN.get(step.argv[0], step.argv[0])}")
    env = {**os.environ, "PATH": path, **step.env}
    if step.argv[0] == "cargo":
        env = _remapped_rustflags(env, cwd)
    if step.argv[0] == "cargo" and "--target" in step.argv:
        _check_rust_target(step.argv[step.argv.index("--target") + 1], cwd, env)
    result = subprocess.run([tool, *step.argv[1:]], cwd=cwd, env=env, capture_output=True,
                            text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-_TAIL_LINES:])
        raise BuildError(f"{' '.join(step.argv)} failed in {cwd} (exit {result.returncode}):"
                         f"\n{tail}")
    return output
