"""Safe YAML loading that remembers where every key and value came from.

Index entries come from pull requests, so the loader treats them as hostile:
a size limit, strict UTF-8, no tabs in indentation, no anchors or aliases
(alias bombs), no explicit tags, a nesting limit, one document, and duplicate
keys are errors rather than silently overwritten. The events are scanned
before anything is composed, so a bomb is refused before it can expand.

Positions are 1-based and kept in two maps keyed by the path of the node,
e.g. ('versions', 0, 'version'): `values` points at the value, `keys` at the
key, so "unknown key" can point at the key and "bad value" at the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from generator.problems import Problem, field_path

# libyaml when present: ten times faster than the pure-Python parser, same marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_ENTRY_BYTES = 1 << 20
MAX_DEPTH = 16

NodePath = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    line: int
    col: int


@dataclass
class Document:
    """A loaded YAML file: plain data plus where each part of it was written."""

    file: str
    data: Any
    values: dict[NodePath, Position] = field(default_factory=dict)
    keys: dict[NodePath, Position] = field(default_factory=dict)

    def where(self, path: NodePath, *, key: bool = False) -> Position:
        """Position of a node, else of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            found = table.get(path[:end]) or self.values.get(path[:end])
            if found:
                return found
        return Position(1, 1)


def load_file(path: Path, display: str | None = None) -> tuple[Document | None, list[Problem]]:
    """Read and load one file; the document is None when problems prevent it."""
    shown = display or str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_ENTRY_BYTES + 1)
    except OSError as exc:
        return None, [Problem(shown, 1, 1, "", f"cannot read the file: {exc.strerror}",
                              code="unreadable")]
    return load_bytes(raw, shown)


def load_bytes(raw: bytes, file: str) -> tuple[Document | None, list[Problem]]:
    if len(raw) > MAX_ENTRY_BYTES:
        return None, [Problem(
            file, 1, 1, "", f"file is larger than the limit of {MAX_ENTRY_BYTES >> 10} KiB",
            hint="keep the entry short; long documentation belongs in the package's homepage",
            code="too-large")]
    text, problems = _decode(raw, file)
    if text is None:
        return None, problems
    problems = _tabs(text, file)
    if problems:
        return None, problems
    events: list[yaml.Event] = []
    problems = _scan_events(text, file, events)
    if problems:
        return None, problems
    root = _compose(events)
    if root is None:
        return None, [Problem(file, 1, 1, "", "file is empty", code="empty",
                              hint="an entry is a YAML mapping; see docs/index-format.md")]
    document = Document(file, None)
    converter = _Converter(document)
    document.data = converter.convert(root, ())
    return document, converter.problems


def _decode(raw: bytes, file: str) -> tuple[str | None, list[Problem]]:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [Problem(file, line, col, "", "file is not valid UTF-8 "
                              f"(byte 0x{raw[exc.start]:02x})",
                              hint="save the file as UTF-8", code="encoding")]


def _tabs(text: str, file: str) -> list[Problem]:
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            problems.append(Problem(
                file, number, indent.index("\t") + 1, "", "tab character in indentation",
                hint="YAML indentation must use spaces; replace the tab with spaces",
                code="tab"))
    return problems


def _scan_events(text: str, file: str, events: list[yaml.Event]) -> list[Problem]:
    """Refuse anchors, aliases, tags, deep nesting and extra documents from the event stream.

    The events are kept in `events`: the document is composed from them, so
    the text is parsed once.
    """
    problems: list[Problem] = []
    aliases: list[tuple[int, int]] = []
    depth = 0
    documents = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            events.append(event)
            mark = event.start_mark
            line, col = mark.line + 1, mark.column + 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                aliases.append((line, col))
                if isinstance(event, yaml.AliasEvent):
                    continue
            if getattr(event, "tag", None) is not None and not _implicit(event):
                problems.append(Problem(
                    file, line, col, "", f"explicit YAML tag {event.tag!r} is not allowed",
                    hint="remove the tag; quote the value if it must be a string",
                    code="tag"))
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    problems.append(Problem(file, line, col, "", "only one YAML document "
                                            "is allowed per file", code="documents",
                                            hint="remove the extra '---' and what follows"))
                    break
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    problems.append(Problem(file, line, col, "", "nesting is deeper than "
                                            f"{MAX_DEPTH} levels", code="depth"))
                    break
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        problems.append(_yaml_problem(exc, file, text))
    if aliases:
        more = f" ({len(aliases) - 1} more in this file)" if len(aliases) > 1 else ""
        problems.append(Problem(file, *aliases[0], "", "YAML anchors and aliases are not "
                                f"allowed{more}", hint="write each value out in full",
                                code="alias"))
    return problems


def _compose(events: list[yaml.Event]) -> Node | None:
    """Nodes from checked events (no anchors, aliases or tags left), as yaml.compose makes."""
    stack: list[Node] = []
    keys: list[list[Node]] = []  # per open collection: its children so far
    root: Node | None = None
    for event in events:
        node: Node | None = None
        if isinstance(event, yaml.ScalarEvent):
            tag = _RESOLVER.resolve(ScalarNode, event.value, event.implicit)
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            kind = SequenceNode if isinstance(event, yaml.SequenceStartEvent) else MappingNode
            stack.append(kind(_RESOLVER.resolve(kind, None, event.implicit), [],
                              event.start_mark, event.end_mark, event.flow_style))
            keys.append([])
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            node = stack.pop()
            children = keys.pop()
            node.value = children if isinstance(node, SequenceNode) else list(
                zip(children[::2], children[1::2], strict=True))
        else:
            continue
        if keys:
            keys[-1].append(node)
        else:
            root = node
    return root


_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"


def _implicit(event: Any) -> bool:
    implicit = getattr(event, "implicit", False)
    return bool(implicit[0]) if isinstance(implicit, tuple) else bool(implicit)


def _yaml_problem(exc: yaml.YAMLError, file: str, text: str) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        message = f"YAML syntax error: {exc.problem}"
        if exc.context:
            message += f" ({exc.context}"
            if exc.context_mark is not None:
                message += f" at line {exc.context_mark.line + 1}"
            message += ")"
        return Problem(file, mark.line + 1, mark.column + 1, "", message, code="yaml",
                       hint="check indentation, colons and quoting around this line")
    if isinstance(exc, yaml.reader.ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        return Problem(file, line, col, "", f"character U+{code:04X} is not allowed in YAML",
                       code="yaml", hint="remove control characters")
    return Problem(file, 1, 1, "", f"YAML error: {exc}", code="yaml")


class _Converter:
    """Turns composed nodes into plain data, recording positions and duplicate keys."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = []
        self._scalars = SafeConstructor()

    def convert(self, node: Node, path: NodePath) -> Any:
        self.document.values[path] = _position(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        if node.tag == _STR:
            return node.value  # most scalars: skip the constructor's dispatch
        return self._scalars.construct_object(node, deep=True)

    def _mapping(self, node: MappingNode, path: NodePath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            position = _position(key_node)
            key = (self._scalars.construct_object(key_node, deep=True)
                   if isinstance(key_node, ScalarNode) else None)
            if not isinstance(key, str):
                self.problems.append(Problem(
                    self.document.file, position.line, position.col, field_path(path),
                    f"key {key_node.value if isinstance(key_node, ScalarNode) else '?'!r} "
                    "is not a string", hint="quote the key", code="key-type"))
                continue
            if key in result:
                self.problems.append(Problem(
                    self.document.file, position.line, position.col, field_path((*path, key)),
                    f"duplicate key {key!r} (first written on line {first_line[key]})",
                    hint="keep one of the two; YAML would silently drop the other",
                    code="duplicate-key"))
                continue
            first_line[key] = position.line
            self.document.keys[(*path, key)] = position
            result[key] = self.convert(value_node, (*path, key))
        return result


def _position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)
