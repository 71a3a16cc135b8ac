"""`ecli build`: turn a project folder into an OCI artifact in DIR/build/oci.

A project is a folder with an `ecli.toml`:

    [package]                 name, version, kind = "bpf", description,
                              source = "opensnoop.bpf.c", license
    [requirements]            min_kernel, capabilities, program_types, features
    [options.VARNAME]         flag, description (for a `const volatile` global)
    [output]                  fields = {FIELD = "errno"|"ipv4"|...}, units = {MAP = "usecs"}

For kind `bpf` the source is compiled once, CO-RE, against a `vmlinux.h`
dumped from this kernel's BTF (kept in DIR/build/ and reused), and the object
plus its package config are written as an artifact tagged with the version,
ready for `ecli push`. Build steps never print; the command renders the result.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecli.errors import ArtifactError, BuildError
from ecli.oci import artifact
from ecli.oci.config import PackageConfig
from ecli.oci.manifest import host_platform
from ecli.oci.store import Store

PROJECT_FILE = "ecli.toml"
KERNEL_BTF = Path("/sys/kernel/btf/vmlinux")
INCLUDE_DIR = Path(__file__).resolve().parent / "include"
OUTPUT_TAIL_LINES = 30

_PACKAGE_KEYS = {"name", "version", "kind", "description", "source", "license"}
_REQUIREMENT_KEYS = {"min_kernel", "btf", "capabilities", "program_types", "features"}
_OPTION_KEYS = {"flag", "description"}
_TABLES = {"package", "requirements", "options", "output"}
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# platform.machine() -> the __TARGET_ARCH_* libbpf's bpf_tracing.h expects
_TARGET_ARCH = {"x86_64": "x86", "amd64": "x86", "aarch64": "arm64", "arm64": "arm64",
                "s390x": "s390", "ppc64le": "powerpc", "riscv64": "riscv"}


@dataclass(frozen=True)
class Project:
    """What ecli.toml says, checked."""

    root: Path
    config: PackageConfig
    source: Path
    license: str | None

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def layout_dir(self) -> Path:
        return self.build_dir / "oci"


@dataclass(frozen=True)
class BuildResult:
    project: Project
    object_path: Path
    digest: str
    tag: str
    compiler_output: str = ""

    @property
    def layout_dir(self) -> Path:
        return self.project.layout_dir


def load_project(root: Path) -> Project:
    """Read and check DIR/ecli.toml; every error names the file and the field."""
    root = root.resolve()  # the compiler runs inside the project: no relative paths
    path = root / PROJECT_FILE
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BuildError(f"{path} not found",
                         hint="a project needs an ecli.toml with a [package] table") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"{path}: not valid TOML: {exc}") from None
    _no_unknown(data, _TABLES, path, "")
    package = _table(data, "package", path)
    if not package:
        raise BuildError(f"{path}: missing the [package] table")
    _no_unknown(package, _PACKAGE_KEYS, path, "package.")
    requirements = _table(data, "requirements", path)
    _no_unknown(requirements, _REQUIREMENT_KEYS, path, "requirements.")
    options = _table(data, "options", path)
    for name, option in options.items():
        if not isinstance(option, dict):
            raise BuildError(f"{path}: [options.{name}] must be a table")
        _no_unknown(option, _OPTION_KEYS, path, f"options.{name}.")
    kind = package.get("kind", "bpf")
    name = package.get("name")
    source_name = package.get("source")
    if kind == "bpf" and not isinstance(source_name, str):
        raise BuildError(f"{path}: package.source must name the .bpf.c file to compile")
    fields: dict[str, Any] = {
        "name": name,
        "version": package.get("version"),
        "kind": kind,
        "description": package.get("description", ""),
        "platforms": [str(host_platform())],
        "requirements": requirements,
        "options": options,
        "output": _table(data, "output", path),
    }
    if kind == "bpf" and isinstance(name, str):
        fields["object"] = f"{name}.bpf.o"
    fields = {key: value for key, value in fields.items() if value is not None}
    try:
        config = PackageConfig.from_dict(fields, str(path))
    except ArtifactError as exc:
        raise BuildError(exc.message, hint=exc.hint) from None
    if not _TAG.match(config.version):
        raise BuildError(f"{path}: package.version {config.version!r} cannot be an OCI tag",
                         hint="use letters, digits, '.', '_' and '-' (e.g. 1.2.0)")
    license_id = package.get("license")
    if license_id is not None and not isinstance(license_id, str):
        raise BuildError(f"{path}: package.license must be a string (an SPDX identifier)")
    source = root / source_name if isinstance(source_name, str) else root
    if kind == "bpf" and not source.is_file():
        raise BuildError(f"{path}: package.source {source_name!r} does not exist")
    return Project(root, config, source, license_id)


def build(root: Path) -> BuildResult:
    """Build the project in `root` into root/build/oci, tagged with its version."""
    project = load_project(root)
    if project.config.kind != "bpf":
        raise BuildError(f"{root / PROJECT_FILE}: ecli build does not build kind "
                         f"{project.config.kind!r} yet; only 'bpf'")
    project.build_dir.mkdir(parents=True, exist_ok=True)
    _ensure_vmlinux_h(project)
    object_path = project.build_dir / f"{project.config.name}.bpf.o"
    output = _compile(project, object_path)
    try:
        descriptor = artifact.create(
            Store(project.layout_dir), project.config, [object_path],
            tag=project.config.version, license_id=project.license, platform=host_platform(),
        )
    except ArtifactError as exc:
        raise BuildError(f"packaging {object_path} failed: {exc.message}") from None
    return BuildResult(project, object_path, descriptor.digest, project.config.version, output)


def target_arch() -> str:
    machine = platform.machine()
    if machine not in _TARGET_ARCH:
        raise BuildError(f"cannot build eBPF for this machine's architecture {machine!r}")
    return _TARGET_ARCH[machine]


def _ensure_vmlinux_h(project: Project) -> None:
    """Dump vmlinux.h from the kernel's BTF unless the project brings its own."""
    target = project.build_dir / "vmlinux.h"
    if target.exists() or (project.source.parent / "vmlinux.h").exists():
        return
    if not KERNEL_BTF.exists():
        raise BuildError(f"this kernel has no BTF ({KERNEL_BTF}), so vmlinux.h cannot be made",
                         hint=f"put a vmlinux.h in {project.root} or {project.build_dir}")
    bpftool = _tool("bpftool", "bpftool")
    partial = target.with_suffix(".h.partial")
    with open(partial, "wb") as out:
        result = subprocess.run([bpftool, "btf", "dump", "file", str(KERNEL_BTF), "format", "c"],
                                stdout=out, stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BuildError(f"bpftool could not dump {KERNEL_BTF}: "
                         f"{_tail(result.stderr.decode(errors='replace'), 5)}")
    partial.replace(target)


def _compile(project: Project, object_path: Path) -> str:
    clang = _tool("clang", "clang")
    command = [clang, "-target", "bpf", "-g", "-O2", f"-D__TARGET_ARCH_{target_arch()}",
               "-I", str(project.build_dir)]
    if INCLUDE_DIR.is_dir():
        command += ["-I", str(INCLUDE_DIR)]
    command += ["-c", str(project.source), "-o", str(object_path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            cwd=project.root)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        object_path.unlink(missing_ok=True)
        hint = None
        if "bpf/bpf_helpers.h" in output and "not found" in output:
            hint = "install libbpf's headers: apt-get install libbpf-dev"
        raise BuildError(f"compiling {project.source.name} failed (clang exit "
                         f"{result.returncode}):\n{_tail(output, OUTPUT_TAIL_LINES)}", hint=hint)
    return output


def _tool(name: str, debian_package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise BuildError(f"{name} is not installed",
                         hint=f"install it: apt-get install {debian_package}")
    return found


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise BuildError(f"{path}: {key} must be a table ([{key}])")
    return value


def _no_unknown(table: dict[str, Any], known: set[str], path: Path, prefix: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise BuildError(f"{path}: unknown field {prefix}{unknown[0]}",
                         hint=f"known fields here: {', '.join(sorted(known))}")
