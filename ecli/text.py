"""Text from outside made inert: the one definition of what may not reach a terminal raw.

Every string that came from an index, a registry, an artifact or a BPF object
can carry control characters: ESC sequences that recolour, move the cursor or
retitle the terminal, BEL, CR that overwrites a line, C1 controls, and the
Unicode bidi overrides that make text read differently from what it is.
`inert` removes terminal sequences whole and shows every other control
character as a visible escape (`\\x07`, `\\u202e`), so a hostile byte is seen
but never acted on. The CLI's renderer applies it to everything it prints; the
generator uses `control_characters` to reject entries that hold any.
"""

from __future__ import annotations

import functools
import re

# CSI (ESC [ ... final byte, or the 8-bit CSI), OSC (ESC ] ... BEL or ST) and
# two-byte ESC sequences: removed whole, so no half sequence is left behind.
_SEQUENCES = (
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[@-Z\\-_]"
)
# C0 but tab and newline, DEL, C1, and the bidi controls (LRM, RLM, ALM,
# embeddings, overrides, isolates).
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"


@functools.cache
def _pattern(source: str) -> re.Pattern[str]:
    """Compiled on first use: most output never needs them (the renderer is on every
    command's path, and compiling costs more than `ecli search`'s table)."""
    return re.compile(source)


def _controls(multiline: bool) -> str:
    """The character class of what is shown escaped: tab and newline too on one line."""
    return f"[{_CONTROLS}]" if multiline else f"[{_CONTROLS}\t\n]"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def inert(text: str, *, multiline: bool = False) -> str:
    """`text` safe to print: sequences removed, other controls shown as escapes.

    One-line fields (names, table cells, error messages) also show tabs and
    newlines as escapes, so a value cannot fake extra lines of output;
    `multiline=True` keeps them for text that is meant to span lines.
    """
    if text.isascii() and text.isprintable():
        return text  # the usual case, at no cost
    text = _pattern(_SEQUENCES).sub("", text)
    return _pattern(_controls(multiline)).sub(_escape, text)


def control_characters(text: str, *, multiline: bool = True) -> list[tuple[int, str]]:
    """(offset, escaped character) of each control character in `text`.

    Tab and newline count as control characters too unless `multiline`, as in `inert`.
    """
    return [(m.start(), _escape(m)) for m in _pattern(_controls(multiline)).finditer(text)]
