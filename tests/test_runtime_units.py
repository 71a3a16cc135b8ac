"""Unit tests of the pure runtime: BTF parsing and decoding, and option parsing, on a
real object compiled with clang (tests/bpf/types.bpf.c). No kernel, no subprocess."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ecli.errors import ArtifactError, UsageError
from ecli.runtime import btf as b
from ecli.runtime.decode import RawDecoder, StructDecoder
from ecli.runtime.formats import FORMATTERS, FormattedDecoder
from ecli.runtime.options import (
    AttachSettings,
    OptionText,
    attach_options,
    object_options,
    parse_program_args,
)
from ecli.runtime.ringbuf import Samples
from ecli.runtime.spec import ObjectSpec

from bpf_objects import ROOT, compile_bpf

TYPES = ROOT / "tests" / "bpf" / "types.bpf.c"


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> ObjectSpec:
    return ObjectSpec.from_file(compile_bpf(TYPES, tmp_path_factory.mktemp("units")))


def sample_bytes(spec: ObjectSpec) -> bytes:
    """A struct test_sample laid out by the offsets its BTF gives, as the kernel writes it."""
    t = spec.btf.find("test_sample", b.KIND_STRUCT)
    offsets = {m.name: m.bit_offset // 8 for m in t.members}
    data = bytearray(t.size)
    struct.pack_into("<B", data, offsets["u8v"], 200)
    struct.pack_into("<h", data, offsets["s16v"], -2)
    struct.pack_into("<I", data, offsets["u32v"], 4_000_000_000)
    struct.pack_into("<q", data, offsets["s64v"], -7)
    struct.pack_into("<B", data, offsets["flag"], 1)
    struct.pack_into("<i", data, offsets["color"], -3)
    data[offsets["name"]:offsets["name"] + 3] = b"xy\0"
    struct.pack_into("<3I", data, offsets["list"], 1, 0, 3)
    data[offsets["raw"]:offsets["raw"] + 4] = bytes([0xAB, 0, 0, 0])
    struct.pack_into("<Hb", data, offsets["inner"], 513, -1)
    data[offsets["wide"]:offsets["wide"] + 16] = (1 << 100).to_bytes(16, "little")
    return bytes(data)


# --- BTF -----------------------------------------------------------------------

def test_btf_names_the_objects_types(spec):
    sample = spec.btf.find("test_sample", b.KIND_STRUCT)
    assert sample is not None and sample.size == spec.btf.size_of(sample.id)
    assert [m.name for m in sample.members] == [
        "u8v", "s16v", "u32v", "s64v", "flag", "color", "name", "list", "raw", "inner", "wide"]
    color = spec.btf.find("test_color", b.KIND_ENUM)
    assert color.enum_values == {1: "TC_RED", 2: "TC_GREEN", -3: "TC_BLUE"}
    assert color.enum_signed
    assert spec.btf.datasec(".rodata") is not None


@pytest.mark.parametrize(("data", "message"), [
    (b"\x9f\xeb", "not BTF"),  # shorter than the header
    (b"\x00\x00\x01\x00" + bytes(20), "not BTF"),  # bad magic
    (struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 1000, 0, 0), "run past the end"),
])
def test_btf_rejects_garbage_naming_the_file(data, message):
    with pytest.raises(ArtifactError, match=f"somewhere.o: .*{message}"):
        b.Btf.parse(data, "somewhere.o")


def test_struct_decoder_reads_every_field_kind(spec):
    decoder = StructDecoder(spec.btf, spec.btf.find("test_sample", b.KIND_STRUCT).id)
    assert decoder.columns == ["u8v", "s16v", "u32v", "s64v", "flag", "color", "name", "list",
                               "raw", "inner.a", "inner.b", "wide"]
    assert decoder.decode(sample_bytes(spec)) == [
        200, -2, 4_000_000_000, -7, True, "TC_BLUE", "xy", [1, 0, 3], "ab000000", 513, -1,
        1 << 100]


def test_a_short_sample_decodes_with_zeros_after(spec):
    decoder = StructDecoder(spec.btf, spec.btf.find("test_sample", b.KIND_STRUCT).id)
    values = decoder.decode(sample_bytes(spec)[:4])
    assert values[0] == 200 and values[2] == 0 and values[-1] == 0


def test_raw_decoder_shows_hex():
    assert RawDecoder().decode(b"\x01\xffhello") == [7, "01ff68656c6c6f", "hello"]


def test_address_formats_read_network_order():
    assert FORMATTERS["ipv4"](0x0100007F) == "127.0.0.1"  # __be32 read as little-endian
    assert FORMATTERS["ipv4"]("x") == "x" and FORMATTERS["ipv4"](1 << 40) == 1 << 40
    assert FORMATTERS["ipv6"]([0, 0, 0, 0x01000000]) == "::1"
    assert FORMATTERS["ipv6"]("fe80" + "0" * 27 + "1") == "fe80::1"
    assert FORMATTERS["ipv6"](7) == 7


def in_one_buffer(samples: list[bytes]) -> Samples:
    """Samples one after another in a buffer, 8-byte aligned with junk between, as in a ring."""
    data, offsets = bytearray(), []
    for sample in samples:
        data += b"\xee" * 8  # a header's place: never read as a sample
        offsets.append(len(data))
        data += sample + b"\xee" * (-len(sample) % 8)
    return Samples(memoryview(bytes(data)), offsets, [len(s) for s in samples])


def one_by_one(decoder, samples: list[bytes]) -> list[list]:
    return [list(column) for column in zip(*(decoder.decode(s) for s in samples), strict=True)]


def test_a_batch_decodes_as_its_samples_one_by_one(spec):
    """Batches (one unpack per sample, converters per column) change no decoded value."""
    full = sample_bytes(spec)
    samples = [full, full[:4], full[:-3], full]
    sample = StructDecoder(spec.btf, spec.btf.find("test_sample", b.KIND_STRUCT).id)
    inner = StructDecoder(spec.btf, spec.btf.find("test_inner", b.KIND_STRUCT).id)
    inner_samples = [struct.pack("<Hbx", 513, -1), struct.pack("<Hbx", 7, 8)]
    formatted = FormattedDecoder(inner, {"a": "hex"})
    for decoder, batch in ((sample, samples), (inner, inner_samples),
                           (formatted, inner_samples), (RawDecoder(), samples)):
        assert decoder.decode_batch(in_one_buffer(batch)) == one_by_one(decoder, batch)
    assert formatted.decode_batch(in_one_buffer(inner_samples))[0] == ["0x201", "0x7"]
    assert inner.types == [int, int] and formatted.types == [None, int]
    assert sample.types[:7] == [int, int, int, int, None, None, str]


# --- options -------------------------------------------------------------------

def parse(spec: ObjectSpec, *argv: str, infos: dict[str, OptionText] | None = None):
    options = object_options(spec, infos or {})
    return parse_program_args("ecli run types", spec, options, list(argv))


def test_every_rodata_global_is_an_option_typed_by_btf(spec):
    options = {o.flag: o for o in object_options(spec, {})}
    assert set(options) == {"opt-u8", "opt-s32", "opt-u64", "opt-flag", "opt-color",
                            "opt-name"}
    assert options["opt-u8"].default_value(spec.btf) == 7
    assert options["opt-s32"].default_value(spec.btf) == -5
    assert options["opt-flag"].default_value(spec.btf) is True
    assert options["opt-color"].default_value(spec.btf) == "TC_GREEN"
    assert options["opt-name"].default_value(spec.btf) == "abc"


def test_values_are_encoded_as_the_kernel_reads_them(spec):
    args = parse(spec, "--opt-u8", "0xff", "--opt-s32", "-7", "--no-opt-flag",
                 "--opt-color", "TC_BLUE", "--opt-name", "xy", "--opt-u64", "18446744073709551615")
    assert args.rodata == {
        "opt_u8": b"\xff", "opt_s32": (-7).to_bytes(4, "little", signed=True),
        "opt_flag": b"\0", "opt_color": (2**32 - 3).to_bytes(4, "little"),
        "opt_name": b"xy".ljust(8, b"\0"), "opt_u64": b"\xff" * 8}
    assert args.attach == AttachSettings()  # a tracepoint needs no attach option
    assert args.event_type is None


def test_unset_options_keep_the_objects_defaults(spec):
    assert parse(spec).rodata == {}


@pytest.mark.parametrize(("argv", "message"), [
    (["--opt-u8", "256"], "--opt-u8: 256 is out of range [0, 255]"),
    (["--opt-u8", "-1"], "--opt-u8: -1 is out of range [0, 255]"),
    (["--opt-s32", "2147483648"], "--opt-s32: 2147483648 is out of range"),
    (["--opt-s32", "ten"], "--opt-s32: 'ten' is not an integer"),
    (["--opt-color", "PINK"], "invalid choice: 'PINK'"),
    (["--opt-name", "eightchr"], "--opt-name: at most 7 bytes, got 8"),
    (["--nope"], "unrecognized arguments: --nope"),
])
def test_bad_values_are_usage_errors(spec, argv, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(spec, *argv)


def test_the_package_may_rename_an_option(spec):
    args = parse(spec, "--size", "9", infos={"opt_u8": OptionText("size", "how big")})
    assert args.rodata == {"opt_u8": b"\x09"}


def test_attach_options_come_from_the_catalogue(spec, tmp_path):
    assert attach_options(spec) == []
    xdp = ObjectSpec(Path("x.o"), spec.btf, ("xdp", "uprobe//bin/true:main", "sk_msg"),
                     (), (), (), "GPL")
    assert attach_options(xdp) == ["ifname", "pid"]
    args = parse_program_args("ecli run x", xdp, [], ["--ifname", "lo", "--pid", "1"])
    assert args.attach == AttachSettings(pid=1, ifname="lo")


def test_a_uprobe_with_no_target_asks_for_the_binary_and_the_symbol(spec):
    given = ObjectSpec(Path("x.o"), spec.btf, ("uprobe", "uretprobe"), (), (), (), "GPL")
    assert attach_options(given) == ["binary", "pid", "symbol"]
    args = parse_program_args("ecli run x", given, [],
                              ["--binary", "libc.so.6", "--symbol", "read"])
    assert args.attach == AttachSettings(binary="libc.so.6", symbol="read")
    with pytest.raises(UsageError, match="required: --symbol"):
        parse_program_args("ecli run x", given, [], ["--binary", "libc.so.6"])
    named = ObjectSpec(Path("x.o"), spec.btf, ("uprobe//bin/true:main",), (), (), (), "GPL")
    assert attach_options(named) == ["pid"]  # the name says where: no --binary
