"""Command-line options from an object's `const volatile` globals.

Every read-only global becomes an option typed by its BTF: bools are flags,
integers are range-checked, enums take their names, char arrays take
strings. The package config may give each a shorter flag and a description
(the CLI passes them as `OptionText`). The attach options (`--ifname`, ...)
are the ones the catalogue says the object's sections need. No C library is
loaded here: `ecli run X -h` stays cheap.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import IO, Any, NamedTuple

from ecli.errors import UsageError
from ecli.runtime import btf as b
from ecli.runtime.spec import GlobalSpec, ObjectSpec
from ecli.text import inert


class AttachSettings(NamedTuple):
    """Where to attach, as the user said it (`--pid`, `--ifname`, `--cgroup`, `--freq`,
    `--binary`, `--symbol`); the catalogue says which of them the object's hooks need."""

    pid: int | None = None
    binary: str | None = None  # for a uprobe whose section names no target
    symbol: str | None = None
    ifname: str | None = None
    cgroup: str | None = None  # default: the root of the cgroup v2 hierarchy
    freq: int = 49


class OptionText(NamedTuple):
    """What a package says about one of its options: a shorter flag, a description.
    (A NamedTuple, like the other plain settings on `ecli run`'s path: cheap to define.)"""

    flag: str | None = None
    description: str = ""


class Option(NamedTuple):
    spec: GlobalSpec
    flag: str
    description: str
    type_name: str

    def encode(self, btf: b.Btf, value: Any) -> bytes:
        return _encode(btf, self.spec, value, self.flag)

    def default_value(self, btf: b.Btf) -> Any:
        return _decode_default(btf, self.spec)

    def default_text(self, btf: b.Btf) -> str:
        """The default as `-h` and the hub's package page show it (a flag is on or off)."""
        value = self.default_value(btf)
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(value)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", hint=f"see '{self.prog} -h'")

    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        # -h quotes the package's description and option texts: outside text
        super()._print_message(inert(message, multiline=True), file)


def object_options(spec: ObjectSpec, infos: Mapping[str, OptionText]) -> list[Option]:
    options = []
    for global_ in spec.rodata:
        if global_.name.startswith("__") or not _settable(spec.btf, global_.type_id):
            continue
        info = infos.get(global_.name, OptionText())
        flag = info.flag or global_.name.replace("_", "-")
        options.append(Option(global_, flag, info.description,
                              spec.btf.type_name(global_.type_id)))
    return options


class ProgramArgs(NamedTuple):
    rodata: dict[str, bytes]  # new .rodata values by global name
    attach: AttachSettings
    event_type: str | None


_ATTACH_OPTIONS = {
    "pid": ("--pid", {"type": int, "metavar": "PID",
                      "help": "attach the uprobes/USDT probes to this process only"}),
    "ifname": ("--ifname", {"metavar": "IFACE",
                            "help": "network interface for XDP and tc programs"}),
    "cgroup": ("--cgroup", {"metavar": "PATH",
                            "help": "cgroup v2 directory for cgroup programs (default: the root)"}),
    "freq": ("--freq", {"type": int, "metavar": "HZ",
                        "help": "samples per second per CPU for perf-event programs "
                                "(default: 49)"}),
    "binary": ("--binary", {"metavar": "PATH", "required": True,
                            "help": "the program or library to probe (a path, or a library's "
                                    "name such as libc.so.6)"}),
    "symbol": ("--symbol", {"metavar": "FUNCTION", "required": True,
                            "help": "the function of --binary to probe"}),
}


def parse_program_args(
    prog: str, spec: ObjectSpec, options: list[Option], argv: Sequence[str],
    description: str = "",
) -> ProgramArgs:
    """Parse the program's own arguments, and the attach options its hooks need."""
    parser = _Parser(prog=prog, description=description or None,
                     epilog="options come from the program's read-only globals; "
                            "ecli's own (--json, --duration, --interval, ...) may be mixed in")
    for option in options:
        _add(parser, spec.btf, option)
    taken = {f"--{o.flag}" for o in options}
    hooks = parser.add_argument_group("where to attach")
    needed = set(attach_options(spec))
    for field in sorted(needed):
        flag, kwargs = _ATTACH_OPTIONS[field]
        names = [f"--attach-{field}"] if flag in taken else [flag, f"--attach-{field}"]
        hooks.add_argument(*names, dest=f"attach_{field}", default=None, **kwargs)
    if spec.event_maps():
        parser.add_argument("--event-type", metavar="STRUCT",
                            help="decode events as this struct of the object's BTF, or "
                                 "of --event-header's (when ecli cannot tell)")
    parsed = vars(parser.parse_args(list(argv)))
    values = {}
    for option in options:
        value = parsed[option.spec.name]
        if value is not None:
            values[option.spec.name] = option.encode(spec.btf, value)
    settings = AttachSettings(**{
        field: parsed[f"attach_{field}"] for field in needed
        if parsed.get(f"attach_{field}") is not None
    })
    return ProgramArgs(values, settings, parsed.get("event_type"))


def attach_options(spec: ObjectSpec) -> list[str]:
    """The AttachSettings fields the programs' hooks need, sorted: ['ifname', 'pid']."""
    return sorted({option for name, found in zip(spec.programs, spec.section_defs(), strict=True)
                   if found for option in found.options_for(name)})


def _add(parser: argparse.ArgumentParser, btf: b.Btf, option: Option) -> None:
    t = btf.strip(option.spec.type_id)
    default = option.default_value(btf)
    help_text = option.description or option.type_name
    kwargs: dict[str, Any] = {"dest": option.spec.name, "default": None}
    if t.kind == b.KIND_INT and t.int_encoding & b.INT_BOOL:
        kwargs["action"] = argparse.BooleanOptionalAction
        kwargs["help"] = f"{help_text} (default: {option.default_text(btf)})"
    elif t.kind in (b.KIND_ENUM, b.KIND_ENUM64):
        kwargs["choices"] = sorted(t.enum_values.values())
        kwargs["help"] = f"{help_text} (default: {default})"
    elif t.kind == b.KIND_ARRAY:
        kwargs["metavar"] = "TEXT"
        kwargs["help"] = f"{help_text} (at most {option.spec.size - 1} bytes)"
    else:
        kwargs["metavar"] = "N"
        kwargs["help"] = f"{help_text} (default: {default})"
    parser.add_argument(f"--{option.flag}", **kwargs)


def _settable(btf: b.Btf, type_id: int) -> bool:
    """Scalars and char arrays can come from a command line; pointers and structs cannot."""
    t = btf.strip(type_id)
    if t.kind == b.KIND_ARRAY:
        element = btf.strip(t.array_type)
        return element.kind == b.KIND_INT and element.size == 1
    return t.kind in (b.KIND_INT, b.KIND_ENUM, b.KIND_ENUM64)


def _integer_bounds(t: b.BtfType) -> tuple[int, int]:
    bits = t.size * 8
    if t.int_encoding & b.INT_SIGNED or (t.kind in (b.KIND_ENUM, b.KIND_ENUM64) and t.enum_signed):
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _encode(btf: b.Btf, global_: GlobalSpec, value: Any, flag: str) -> bytes:
    t = btf.strip(global_.type_id)
    if t.kind == b.KIND_INT and t.int_encoding & b.INT_BOOL:
        return bytes([1 if value else 0]).ljust(t.size, b"\0")
    if t.kind in (b.KIND_ENUM, b.KIND_ENUM64):
        number = next(k for k, v in t.enum_values.items() if v == value)
        return (number if number >= 0 else number + (1 << (t.size * 8))).to_bytes(t.size, "little")
    if t.kind == b.KIND_ARRAY:
        raw = str(value).encode()
        if len(raw) >= global_.size:
            raise UsageError(f"--{flag}: at most {global_.size - 1} bytes, got {len(raw)}")
        return raw.ljust(global_.size, b"\0")
    if t.kind == b.KIND_INT:
        try:
            number = int(str(value), 0)
        except ValueError:
            raise UsageError(f"--{flag}: {value!r} is not an integer") from None
        low, high = _integer_bounds(t)
        if not low <= number <= high:
            raise UsageError(f"--{flag}: {number} is out of range [{low}, {high}]")
        return number.to_bytes(t.size, "little", signed=low < 0)
    raise UsageError(f"--{flag}: globals of type {btf.type_name(global_.type_id)} "
                     "cannot be set from the command line")


def _decode_default(btf: b.Btf, global_: GlobalSpec) -> Any:
    t = btf.strip(global_.type_id)
    raw = global_.default
    if t.kind == b.KIND_INT and t.int_encoding & b.INT_BOOL:
        return any(raw)
    if t.kind == b.KIND_INT:
        return int.from_bytes(raw, "little", signed=bool(t.int_encoding & b.INT_SIGNED))
    if t.kind in (b.KIND_ENUM, b.KIND_ENUM64):
        number = int.from_bytes(raw, "little", signed=t.enum_signed)
        return t.enum_values.get(number, number)
    if t.kind == b.KIND_ARRAY:
        return raw.split(b"\0")[0].decode("utf-8", "replace")
    return raw.hex()
