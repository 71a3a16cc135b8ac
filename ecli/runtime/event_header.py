"""Event types from outside the object: a C header compiled to BTF, or BTF a package carries.

Plain clang leaves no BTF for a struct that only a local variable uses
(`struct event *e = bpf_ringbuf_reserve(...)`), so events would print as hex.
The struct is in the project's header: `compile_header` writes a tiny C file
that includes it and declares one variable of each struct and union the
header itself defines (found in clang's preprocessed output, so macros are
expanded), compiles it with `clang -g -O2 -target bpf -c`, and reads the
BTF of that object. `EventTypes.pick` chooses the type for one event map: by
name, else the one struct of the header whose size the programs send.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

from ecli.errors import ArtifactError, UsageError
from ecli.runtime import btf as b
from ecli.runtime.elf import ElfFile

CLANG_PACKAGE = "clang"  # the Debian package that provides it
MAX_HEADER_BYTES = 1 << 20
# Types libbpf-tools headers take from vmlinux.h; typedefs may repeat (C11), so a header
# that includes vmlinux.h or <linux/types.h> itself still compiles.
PRELUDE = """\
typedef signed char __s8; typedef unsigned char __u8;
typedef short __s16; typedef unsigned short __u16;
typedef int __s32; typedef unsigned int __u32;
typedef long long __s64; typedef unsigned long long __u64;
typedef __s8 s8; typedef __u8 u8; typedef __s16 s16; typedef __u16 u16;
typedef __s32 s32; typedef __u32 u32; typedef __s64 s64; typedef __u64 u64;
typedef __u16 __be16; typedef __u32 __be32; typedef __u64 __be64;
typedef __u16 __le16; typedef __u32 __le32; typedef __u64 __le64;
typedef int pid_t; typedef unsigned int uid_t; typedef unsigned int gid_t;
"""
_LINEMARKER = re.compile(r'^# (\d+) "((?:[^"\\]|\\.)*)"')
_RECORD = re.compile(r"\b(typedef\s+)?(struct|union)\s+([A-Za-z_]\w*)?\s*\{")
_TYPEDEF_NAME = re.compile(r"\s*([A-Za-z_]\w*)\s*;")


class EventTypes(NamedTuple):
    """BTF to decode events with, and how to choose the type in it."""

    btf: b.Btf
    raw: bytes  # the BTF blob, as a package carries it
    where: str  # the header, or the package's file
    declared: tuple[str, ...] = ()  # what the header defines: the candidates by size
    type_name: str | None = None  # the type a package names

    @classmethod
    def from_btf(cls, raw: bytes, where: str, type_name: str) -> EventTypes:
        """The BTF a package carries, with the type its config names."""
        return cls(b.Btf.parse(raw, where), raw, where, (type_name,), type_name)

    def pick(self, named: str | None, sizes: set[int]) -> int:
        """The type id for an event map whose senders use `sizes` bytes: `named`
        (--event-type) or the package's, else the one declared struct of that size."""
        wanted = named or self.type_name
        if wanted:
            found = self._find(wanted)
            if found is None:
                raise UsageError(f"{self.where}: no struct, union or typedef {wanted!r} "
                                 f"(it defines: {', '.join(self.declared) or 'none'})")
            return found.id
        types = [(name, t.id, self.btf.size_of(t.id)) for name in self.declared
                 if (t := self._find(name)) is not None]
        fitting = [t for t in types if not sizes or t[2] in sizes]
        if len(fitting) == 1:
            return fitting[0][1]
        listed = ", ".join(f"{name} ({size} bytes)" for name, _id, size in types) or "none"
        sent = ", ".join(str(s) for s in sorted(sizes)) or "an unknown size"
        raise UsageError(
            f"{self.where}: {len(fitting) or 'no'} type(s) fit the events ({sent}); "
            f"it defines: {listed}", hint="name one with --event-type NAME")

    def _find(self, name: str) -> b.BtfType | None:
        return (self.btf.find(name, b.KIND_STRUCT) or self.btf.find(name, b.KIND_UNION)
                or self.btf.find(name, b.KIND_TYPEDEF))


def compile_header(header: Path) -> EventTypes:
    """Compile `header` into BTF with clang; its types and the records it defines."""
    where = str(header)
    try:
        if header.stat().st_size > MAX_HEADER_BYTES:
            raise UsageError(f"{where}: larger than {MAX_HEADER_BYTES >> 20} MiB")
    except OSError as exc:
        raise UsageError(f"{where}: cannot read the event header: {exc.strerror}") from None
    clang = shutil.which("clang")
    if clang is None:
        raise UsageError(f"{where}: compiling an event header needs clang, which is not "
                         f"installed", hint=f"apt-get install {CLANG_PACKAGE}")
    absolute = header.resolve()
    include = f'#include "{_c_string(str(absolute))}"\n'
    with tempfile.TemporaryDirectory(prefix="ecli-header-") as tmp:
        source = Path(tmp) / "types.c"
        source.write_text(PRELUDE + include)
        expanded = _clang(clang, ["-E", "-target", "bpf", str(source)], where)
        records = _records(_text_of(expanded, str(absolute)))
        if not records:
            raise UsageError(f"{where}: defines no named struct or union")
        source.write_text(PRELUDE + include + "".join(
            f"{spelling} __ecli_type_{n};\n" for n, (spelling, _name) in enumerate(records)))
        obj = Path(tmp) / "types.o"
        _clang(clang, ["-g", "-O2", "-target", "bpf", "-c", str(source), "-o", str(obj)],
               where)
        elf = ElfFile(obj.read_bytes(), where)
        section = elf.section(".BTF")
        if section is None:
            raise ArtifactError(f"{where}: clang produced no BTF for it")
        raw = elf.section_data(section)
    return EventTypes(b.Btf.parse(raw, where), raw, where, tuple(n for _s, n in records))


def _clang(clang: str, args: list[str], where: str) -> str:
    done = subprocess.run([clang, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if ": error: " in line]
        raise UsageError(f"{where}: clang cannot compile it: "
                         f"{(errors or done.stderr.splitlines() or ['no output'])[0]}")
    return done.stdout


def _c_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _text_of(expanded: str, header: str) -> str:
    """The lines of the preprocessed output that come from `header` itself."""
    kept, inside = [], False
    for line in expanded.splitlines():
        marker = _LINEMARKER.match(line)
        if marker:
            inside = marker.group(2).encode().decode("unicode_escape") == header
        elif inside:
            kept.append(line)
    return "\n".join(kept)


def _records(text: str) -> list[tuple[str, str]]:
    """(C spelling, name) of each struct or union the text defines: `struct event` for
    a tagged one, `event_t` for `typedef struct {...} event_t;`."""
    found: list[tuple[str, str]] = []
    for match in _RECORD.finditer(text):
        typedef, kind, tag = match.groups()
        if tag and not typedef:
            found.append((f"{kind} {tag}", tag))
            continue
        end = _closing_brace(text, match.end() - 1)
        alias = _TYPEDEF_NAME.match(text, end + 1) if typedef and end >= 0 else None
        if alias:
            found.append((alias.group(1), alias.group(1)))
        elif tag:
            found.append((f"{kind} {tag}", tag))
    return list(dict.fromkeys(found))


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1
