"""Write `ecli/runtime/helper_ids.py` from libbpf's bpf_helper_defs.h.

    python -m generator.helper_table /usr/include/bpf/bpf_helper_defs.h

The kernel names helpers by number in the instructions; ecli's analysis
names them through that generated table. A developer tool, kept with the
generator (the hub's side) so that ecli ships only the table it needs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ecli.files import write_atomic

TABLE = Path(__file__).resolve().parent.parent / "ecli" / "runtime" / "helper_ids.py"
_DEFINITION = re.compile(r"\(\*(\w+)\)\(.*?\) = \(void \*\) (\d+);", re.S)
_LIBBPF_VERSION = "libbpf 1.1"


def parse_helper_defs(header: str) -> dict[int, str]:
    """The id -> name table of libbpf's bpf_helper_defs.h."""
    return {int(number): name for name, number in _DEFINITION.findall(header)}


def render(helpers: dict[int, str], libbpf: str = _LIBBPF_VERSION) -> str:
    lines = "".join(f'    {number}: "{name}",\n' for number, name in sorted(helpers.items()))
    return (
        f'"""BPF helper ids -> names, generated from libbpf\'s bpf_helper_defs.h ({libbpf}).\n'
        "\n"
        "Generated file, do not edit. Regenerate with\n"
        "`python -m generator.helper_table /usr/include/bpf/bpf_helper_defs.h`;\n"
        "tests/test_inspect.py checks that this file is what that command writes.\n"
        '"""\n'
        "\n"
        f"HELPERS: dict[int, str] = {{\n{lines}}}\n"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m generator.helper_table PATH/bpf_helper_defs.h", file=sys.stderr)
        return 2
    try:
        helpers = parse_helper_defs(Path(argv[0]).read_text())
    except OSError as exc:
        print(f"error: {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 1
    if not helpers:
        print(f"error: {argv[0]}: no helper definitions found", file=sys.stderr)
        return 1
    write_atomic(TABLE, render(helpers).encode())
    print(f"{TABLE}: {len(helpers)} helpers")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
