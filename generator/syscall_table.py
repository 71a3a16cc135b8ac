"""Write `ecli/kernel/syscalls.py` from the kernel's uapi unistd headers.

    python -m generator.syscall_table /usr/include/x86_64-linux-gnu/asm/unistd_64.h \
        /usr/include/asm-generic/unistd.h

The `syscall` label decoder of `ecli run --metrics` names syscall numbers
through that generated table: x86_64's own, and the generic one arm64 and
riscv64 use. A developer tool, kept with the generator like helper_table.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ecli.files import write_atomic

TABLE = Path(__file__).resolve().parent.parent / "ecli" / "kernel" / "syscalls.py"
_DEFINE = re.compile(r"^#define __NR_(\w+)\s+(\d+)\s*$", re.M)


def parse_unistd(header: str) -> dict[int, str]:
    """number -> name of every `#define __NR_name N` (aliases through macros are skipped)."""
    found: dict[int, str] = {}
    for name, number in _DEFINE.findall(header):
        found.setdefault(int(number), name)
    return found


def render(x86_64: dict[int, str], generic: dict[int, str]) -> str:
    def table(name: str, names: dict[int, str]) -> str:
        rows = "".join(f'    {n}: "{s}",\n' for n, s in sorted(names.items()))
        return f"{name}: dict[int, str] = {{\n{rows}}}\n"

    return (
        '"""Syscall numbers -> names, generated from the uapi unistd headers.\n'
        "\n"
        "Generated file, do not edit. Regenerate with `python -m generator.syscall_table\n"
        "/usr/include/x86_64-linux-gnu/asm/unistd_64.h /usr/include/asm-generic/unistd.h`.\n"
        '"""\n'
        "\n"
        "import platform\n"
        "\n"
        f"{table('X86_64', x86_64)}\n"
        f"{table('GENERIC', generic)}\n"
        "\n"
        "def syscall_names() -> dict[int, str]:\n"
        '    """This machine\'s table (arm64 and riscv64 use the generic one)."""\n'
        '    return X86_64 if platform.machine() in ("x86_64", "amd64") else GENERIC\n'
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m generator.syscall_table X86_64/unistd_64.h "
              "asm-generic/unistd.h", file=sys.stderr)
        return 2
    try:
        tables = [parse_unistd(Path(arg).read_text()) for arg in argv]
    except OSError as exc:
        print(f"error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    if not all(tables):
        print("error: no __NR_ definitions found", file=sys.stderr)
        return 1
    write_atomic(TABLE, render(*tables).encode())
    print(f"{TABLE}: {len(tables[0])} + {len(tables[1])} syscalls")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
