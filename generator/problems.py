"""What every rule returns: a problem that names the file, the place and the fix.

Rules never raise for bad input and never stop at the first problem; they
return lists of these, and `__main__` renders them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    col: int
    field_path: str
    message: str
    hint: str | None = None
    code: str = "invalid"

    def render(self) -> str:
        """`path:line:col: field: message [code]`, and the hint on its own line."""
        where = f"{self.file}:{self.line}:{self.col}: "
        field = f"{self.field_path}: " if self.field_path else ""
        text = f"{where}{field}{self.message} [{self.code}]"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


def field_path(path: tuple[str | int, ...]) -> str:
    """('versions', 0, 'ref') -> 'versions[0].ref', the way a reader writes it."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class GeneratorError(Exception):
    """A failure that is not about one entry: carries problems to report."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
