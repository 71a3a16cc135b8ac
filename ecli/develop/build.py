"""`ecli build`: turn a project folder into an OCI artifact in DIR/build/oci.

A project is a folder with an `ecli.toml`:

    [package]                 name, version, kind = "bpf"|"eunomia-json"|"bundle", description,
                              source = "opensnoop.bpf.c", license
    [requirements]            min_kernel, capabilities, program_types, features
    [options.VARNAME]         flag, description (for a `const volatile` global)
    [output]                  fields = {FIELD = "errno"|"ipv4"|...}, units = {MAP = "usecs"},
                              event_header = "NAME.h", event_type = "event" (optional)
    [metrics.MAP]             kind = "counter"|"gauge"|"histogram", name, help, values,
                              buckets = "log2"|"linear", bucket_width, sum, scale,
                              labels = {FIELD = "ksym"|"errno"|... or {decoder, name, values}}
    [build]                   language = "bpf"|"c"|"go"|"rust"|"python"|"java"|"typescript",
                              platforms = ["linux/amd64", "linux/arm64"]
    [index]                   owners, keywords, categories, homepage, source
                              (what `ecli publish` writes into the index entry)

Kind `eunomia-json` is compiled as kind `bpf`, then the object, the options'
descriptions and the event header's struct are written as an eunomia-bpf
package.json (ecli/develop/eunomia_package.py), the artifact's one layer.

Kind `bundle` (package.entrypoint = ["bin/NAME"], package.run_options = ["json"]: the
`ecli run` output options the entrypoint understands) is built the language's own
way by ecli/develop/toolchains.py (make, go generate + go build, cargo build, Maven,
npm + tsc), then its
outputs are packed into a reproducible NAME.tar.gz layer (ecli/develop/bundle_archive.py).
When [build] names several platforms and the toolchain cross-compiles (eBPF
objects, Go), each platform gets its own manifest and the version's tag names
an OCI image index over them.

For kind `bpf` the source is compiled once, CO-RE, against a `vmlinux.h`
dumped from this kernel's BTF (kept in DIR/build/ and reused), and the object
plus its package config are written as an artifact tagged with the version,
ready for `ecli push`. The object names its files relative to the project
(`_compile`), and no time is written: the same sources and clang give the
same digest in any folder. With `output.event_header`, the header is compiled to
BTF as `ecli run --event-header` does, the event type chosen (by
`output.event_type`, else the one struct of the size the programs send), and
the BTF packed beside the object (`NAME.events.btf`, named by the config's
`output.event_btf` and `output.event_type`), so users of the package need no
header. Build steps never print; the command renders the result.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecli.develop import bundle_archive, toolchains
from ecli.errors import ArtifactError, BuildError
from ecli.files import write_atomic
from ecli.kernel.system import VMLINUX_BTF as KERNEL_BTF
from ecli.oci import artifact, mediatypes
from ecli.oci.config import PackageConfig
from ecli.oci.manifest import Descriptor, Platform, host_platform
from ecli.oci.store import Store

if TYPE_CHECKING:
    from ecli.runtime.event_header import EventTypes

PROJECT_FILE = "ecli.toml"
COMPILED_KINDS = ("bpf", "eunomia-json")  # an eBPF object compiled from package.source
INCLUDE_DIR = Path(__file__).resolve().parent.parent / "include"
OUTPUT_TAIL_LINES = 30

_PACKAGE_KEYS = {"name", "version", "kind", "description", "source", "license", "entrypoint",
                 "run_options"}
_BUILD_KEYS = {"language", "platforms"}
_INDEX_KEYS = {"owners", "keywords", "categories", "homepage", "source"}
_CROSS_BPF = ("amd64", "arm64")
_REQUIREMENT_KEYS = {"min_kernel", "btf", "capabilities", "program_types", "features"}
_OPTION_KEYS = {"flag", "description"}
_TABLES = {"package", "requirements", "options", "output", "metrics", "build", "index"}
_METRIC_KEYS = {"kind", "name", "help", "labels", "values", "buckets", "bucket_width", "sum",
                "scale"}
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
    language: str = "bpf"
    platforms: tuple[Platform, ...] = ()
    index: dict[str, Any] = field(default_factory=dict)
    event_header: Path | None = None  # output.event_header
    event_type: str | None = None  # output.event_type, when the header has several fits

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def layout_dir(self) -> Path:
        return self.build_dir / "oci"


@dataclass(frozen=True)
class BuildResult:
    project: Project
    object_path: Path  # kind bpf: the host's object; kind bundle: the host's tar.gz
    digest: str  # the tagged manifest, or image index when several platforms
    tag: str
    compiler_output: str = ""
    platforms: tuple[str, ...] = ()
    artifacts: tuple[Path, ...] = ()  # every packed file, all platforms

    @property
    def layout_dir(self) -> Path:
        return self.project.layout_dir


def load_project(root: Path, platforms: list[str] | None = None) -> Project:
    """Read and check DIR/ecli.toml; every error names the file and the field.

    `platforms` (`ecli build --platform`) replaces the file's build.platforms."""
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
    metrics = _table(data, "metrics", path)
    for map_name, metric in metrics.items():
        if not isinstance(metric, dict):
            raise BuildError(f"{path}: [metrics.{map_name}] must be a table")
        _no_unknown(metric, _METRIC_KEYS, path, f"metrics.{map_name}.")
    kind = package.get("kind", "bpf")
    name = package.get("name")
    build_table = _table(data, "build", path)
    _no_unknown(build_table, _BUILD_KEYS, path, "build.")
    index_table = _table(data, "index", path)
    _no_unknown(index_table, _INDEX_KEYS, path, "index.")
    compiled = kind in COMPILED_KINDS
    language = build_table.get("language") or ("bpf" if compiled else toolchains.detect(root))
    if language not in toolchains.LANGUAGES or (language == "bpf") != compiled:
        raise BuildError(f"{path}: build.language {language!r} does not fit kind {kind!r}",
                         hint="kinds 'bpf' and 'eunomia-json' are built as 'bpf'; kind "
                              "'bundle' as 'c', 'go', "
                              "'rust', 'python', 'java' or 'typescript'")
    where = "ecli build --platform" if platforms else f"{path}: build.platforms"
    platforms = _platforms(platforms or build_table.get("platforms"), language, where)
    output = dict(_table(data, "output", path))
    event_header, event_type = _event_header(output, root, path, kind)
    source_name = package.get("source")
    if compiled and not isinstance(source_name, str):
        raise BuildError(f"{path}: package.source must name the .bpf.c file to compile")
    fields: dict[str, Any] = {
        "name": name,
        "version": package.get("version"),
        "kind": kind,
        "description": package.get("description", ""),
        "platforms": [str(p) for p in platforms],
        "entrypoint": package.get("entrypoint"),
        "run_options": package.get("run_options"),
        "requirements": requirements,
        "options": options,
        "output": output,
        "metrics": metrics,
    }
    if kind == "bpf" and isinstance(name, str):
        fields["object"] = f"{name}.bpf.o"
    if kind == "eunomia-json":
        from ecli.develop.eunomia_package import PACKAGE_FILE

        fields["object"] = PACKAGE_FILE
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
    if compiled and not source.is_file():
        raise BuildError(f"{path}: package.source {source_name!r} does not exist")
    return Project(root, config, source, license_id, language, platforms, index_table,
                   event_header, event_type)


def _event_header(output: dict[str, Any], root: Path, path: Path, kind: str
                  ) -> tuple[Path | None, str | None]:
    """`output.event_header` and `output.event_type`, taken out of the output table:
    the package config gets the type and the BTF file only when the build made them."""
    if "event_btf" in output:
        raise BuildError(f"{path}: output.event_btf is written by ecli build",
                         hint="name the header with output.event_header")
    header, event_type = output.pop("event_header", None), output.pop("event_type", None)
    if header is None:
        if event_type is not None:
            raise BuildError(f"{path}: output.event_type needs output.event_header")
        return None, None
    if kind not in COMPILED_KINDS or not isinstance(header, str) or not (root / header).is_file():
        raise BuildError(f"{path}: output.event_header must name a header file of a kind "
                         f"'bpf' or 'eunomia-json' project ({header!r})")
    if event_type is not None and not isinstance(event_type, str):
        raise BuildError(f"{path}: output.event_type must be a string (a struct's name)")
    return root / header, event_type


def _platforms(value: Any, language: str, where: str) -> tuple[Platform, ...]:
    """The platforms to build, host first; only those the toolchain can target."""
    host = host_platform()
    if value is None:
        return (host,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise BuildError(f"{where} must be a non-empty list like "
                         '["linux/amd64", "linux/arm64"]')
    cross = _CROSS_BPF if language == "bpf" else toolchains.language(language).cross
    wanted = []
    for text in dict.fromkeys(value):
        plat = Platform.parse(text, where, BuildError)
        if plat.os != "linux" or plat.variant:
            raise BuildError(f"{where}: {text!r} is not linux/ARCH")
        if plat.architecture != host.architecture and plat.architecture not in cross:
            raise BuildError(f"{where}: the {language} toolchain cannot build "
                             f"for {text} on this {host} machine",
                             hint=f"it cross-compiles for: {', '.join(cross) or 'nothing'}")
        wanted.append(plat)
    wanted.sort(key=lambda p: p != host)
    return tuple(wanted)


def build(root: Path, platforms: list[str] | None = None) -> BuildResult:
    """Build the project in `root` into root/build/oci, tagged with its version."""
    project = load_project(root, platforms)
    if project.config.kind not in (*COMPILED_KINDS, "bundle"):
        raise BuildError(f"{root / PROJECT_FILE}: ecli build does not build kind "
                         f"{project.config.kind!r}; only 'bpf', 'eunomia-json' and 'bundle'",
                         hint="build container images with docker or podman")
    project.build_dir.mkdir(parents=True, exist_ok=True)
    packed: list[tuple[Platform, Path]] = []
    outputs = []
    for number, plat in enumerate(project.platforms):
        if project.language == "bpf":
            _ensure_vmlinux_h(project)
            folder = project.build_dir if number == 0 else project.build_dir / _folder(plat)
            folder.mkdir(parents=True, exist_ok=True)
            packed_file = folder / f"{project.config.name}.bpf.o"
            outputs.append(_compile(project, packed_file, _TARGET_ARCH[plat.architecture]))
            if project.config.kind == "eunomia-json":
                packed_file = _eunomia(project, packed_file, folder)
        else:
            packed_file = _build_bundle(project, plat, number == 0, outputs)
        packed.append((plat, packed_file))
    config, extra = project.config, []
    if project.event_header is not None and project.config.kind == "bpf":
        config, btf_file = _event_btf(project, packed[0][1])
        extra.append(btf_file)
    store = Store(project.layout_dir)
    descriptors = []
    for plat, packed_file in packed:
        try:
            descriptors.append(artifact.create(
                store, config, [packed_file, *extra], license_id=project.license,
                tag=project.config.version if len(packed) == 1 else None, platform=plat))
        except ArtifactError as exc:
            raise BuildError(f"packaging {packed_file} failed: {exc.message}") from None
    digest = descriptors[0].digest if len(descriptors) == 1 else \
        _write_index(store, descriptors, project.config.version)
    return BuildResult(project, packed[0][1], digest, project.config.version,
                       "\n".join(o for o in outputs if o),
                       tuple(str(p) for p, _ in packed), tuple(f for _, f in packed))


def _eunomia(project: Project, object_path: Path, folder: Path) -> Path:
    """The object packed into an eunomia-bpf package.json, its header as export types."""
    from ecli.develop import eunomia_package

    event = _event_type(project, object_path) if project.event_header is not None else None
    return eunomia_package.write(project.config, object_path,
                                 folder / eunomia_package.PACKAGE_FILE, event)


def _event_type(project: Project, object_path: Path) -> tuple[EventTypes, int]:
    """The header compiled to BTF and the event type chosen in it: by output.event_type,
    else the one struct of the size the programs send."""
    from ecli.errors import UsageError
    from ecli.runtime.event_header import compile_header
    from ecli.runtime.spec import ObjectSpec

    assert project.event_header is not None
    spec = ObjectSpec.from_file(object_path)
    sizes = {size for m in spec.event_maps() for size in spec.event_sizes(m)}
    try:
        types = compile_header(project.event_header)
        return types, types.pick(project.event_type, sizes)
    except UsageError as exc:
        hint = "set output.event_type" if exc.hint and "--event-type" in exc.hint else exc.hint
        raise BuildError(exc.message, hint=hint) from None


def _event_btf(project: Project, object_path: Path) -> tuple[PackageConfig, Path]:
    """The header's BTF as a package file, and the config naming it and the event type."""
    types, type_id = _event_type(project, object_path)
    chosen = types.btf[type_id].name
    name = f"{project.config.name}.events.btf"
    target = project.build_dir / name
    target.write_bytes(types.raw)
    output = project.config.output._replace(event_type=chosen, event_btf=name)
    return project.config._replace(output=output), target


def _folder(plat: Platform) -> str:
    return f"{plat.os}-{plat.architecture}"


def _build_bundle(project: Project, plat: Platform, first: bool, outputs: list[str]) -> Path:
    """Run the language's build for `plat` and pack its outputs into NAME.tar.gz."""
    mtime = bundle_archive.source_date_epoch() or 0  # unset: time 0
    lang = toolchains.language(project.language)
    for step in lang.steps(project.config.name, plat, first):
        outputs.append(toolchains.run(step, project.root))
    files = {inside: project.root / relative
             for inside, relative in lang.outputs(project.config.name, plat, project.root).items()}
    entry = project.config.entrypoint[0]
    if entry not in files:
        raise BuildError(f"{project.root / PROJECT_FILE}: package.entrypoint {entry!r} is not "
                         f"in the bundle (it holds {', '.join(sorted(files))})")
    target = project.build_dir / _folder(plat) / f"{project.config.name}.tar.gz"
    return bundle_archive.write(target, files, mtime)


def _write_index(store: Store, manifests: list[Descriptor], tag: str) -> str:
    """An OCI image index over the per-platform manifests, tagged `tag`."""
    entries = [Descriptor(d.media_type, d.digest, d.size, {}, d.platform,
                          d.artifact_type).to_dict() for d in manifests]
    raw = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                      "artifactType": mediatypes.ARTIFACT_TYPE, "manifests": entries},
                     separators=(",", ":")).encode()
    digest = store.write_blob(raw)
    store.add_ref(tag, digest, mediatypes.OCI_INDEX, len(raw),
                  artifact_type=mediatypes.ARTIFACT_TYPE)
    return digest


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


def _compile(project: Project, object_path: Path, arch: str | None = None) -> str:
    """clang's object, the same bytes for the same sources in any folder.

    clang writes each file's path into the object (BTF line info, DWARF), so the
    project's folder is mapped to `.` and ecli's headers are read from a copy
    inside it: paths stay relative, and clang still finds every file to put
    its source lines in the BTF, which the verifier's messages quote."""
    clang = _tool("clang", "clang")
    command = [clang, "-target", "bpf", "-g", "-O2", f"-D__TARGET_ARCH_{arch or target_arch()}",
               f"-ffile-prefix-map={project.root}=.", "-I", str(project.build_dir),
               "-I", str(_ecli_headers(project))]
    multiarch = Path(f"/usr/include/{platform.machine()}-linux-gnu")
    if multiarch.is_dir():  # asm/ headers, which libbpf's usdt.bpf.h needs
        command += ["-I", str(multiarch)]
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


def _ecli_headers(project: Project) -> Path:
    """DIR/build/include: a copy of the headers ecli ships (ecli.h), refreshed each build."""
    folder = project.build_dir / "include"
    for header in sorted(INCLUDE_DIR.glob("*.h")):
        data = header.read_bytes()
        copy = folder / header.name
        if not copy.is_file() or copy.read_bytes() != data:
            write_atomic(copy, data, durable=False)
    return folder


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
