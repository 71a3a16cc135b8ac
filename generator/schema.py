"""The entry's JSON Schema (index/schema/v1.json), with errors mapped back to lines.

The schema is the published contract for editors and other tools; this module
turns each jsonschema error into a `Problem` at the line of the offending key
or value, worded for someone editing YAML. Schema nodes may carry `x-message`
(what is wrong, after the value) and `x-hint` (how to fix it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from generator.load import Document, NodePath
from generator.problems import Problem, field_path

ENTRY_SCHEMA = "v1.json"
FEATURED_SCHEMA = "featured-v1.json"
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_QUOTED = re.compile(r"^'((?:[^'\\]|\\.)*)'")


@cache
def validator(schema_dir: Path, name: str) -> Draft202012Validator:
    """Compiled once per run: 10,000 entries share it."""
    schema = json.loads((schema_dir / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@cache
def fast_validator(schema_dir: Path, name: str) -> Callable[[Any], Any]:
    """The same schema compiled to Python by fastjsonschema: 10x faster on valid input.

    It only answers "valid or not"; jsonschema still explains every problem.
    tests/test_generator_validate.py holds the two to the same verdicts.
    """
    import fastjsonschema

    schema = json.loads((schema_dir / name).read_text(encoding="utf-8"))
    return fastjsonschema.compile(schema, use_default=False)


def check(document: Document, schema_dir: Path, name: str = ENTRY_SCHEMA) -> list[Problem]:
    from fastjsonschema import JsonSchemaException

    try:
        fast_validator(schema_dir, name)(document.data)
        return []
    except JsonSchemaException:
        pass  # find out exactly what is wrong, below
    problems: list[Problem] = []
    for error in validator(schema_dir, name).iter_errors(document.data):
        problems.extend(_problems(document, error))
    return problems


def _problems(document: Document, error: ValidationError) -> list[Problem]:
    path: NodePath = tuple(error.absolute_path)
    kind = error.validator
    spec = error.schema if isinstance(error.schema, dict) else {}
    hint = spec.get("x-hint")
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(spec.get("properties", {}))
        return [
            _at(document, (*path, key), f"unknown key {key!r}", key=True, code="unknown-key",
                hint=f"allowed keys here: {', '.join(sorted(allowed))}")
            for key in error.instance if key not in allowed
        ]
    if kind == "required" and isinstance(error.instance, dict):
        missing = _QUOTED.match(error.message)
        key = missing.group(1) if missing else "?"
        field_hint = spec.get("properties", {}).get(key, {}).get("x-hint")
        return [_at(document, path, f"missing required key {key!r}", code="missing",
                    hint=field_hint or f"add '{key}:' here", field=(*path, key))]
    if kind == "not" and not isinstance(error.instance, dict):
        return []  # a rule between keys: the type error already says it is no mapping
    if kind == "not":
        return [_at(document, path, error.validator_value.get("x-message", error.message),
                    code="conflict", hint=error.validator_value.get("x-hint"))]
    message = _message(error, spec)
    return [_at(document, path, message, hint=hint, code=_CAMEL.sub("-", kind).lower())]


def _message(error: ValidationError, spec: dict[str, Any]) -> str:
    value = error.instance
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    kind = error.validator
    if kind == "pattern" and "x-message" in spec:
        return f"{shown} {spec['x-message']}"
    if kind == "type":
        wanted = error.validator_value
        article = "an" if str(wanted)[0] in "aeiou" else "a"
        text = f"must be {article} {wanted}, not {_yaml_type(value)}"
        if wanted == "string" and not isinstance(value, dict | list):
            text += f" ({shown}); quote it"
        return text
    if kind == "enum":
        options = ", ".join(str(v) for v in error.validator_value)
        return f"{shown} is not one of: {options}"
    if kind == "maxLength":
        return f"is {len(value)} characters long; the limit is {error.validator_value}"
    if kind == "minLength":
        return "must not be empty"
    if kind == "minItems":
        return f"needs at least {error.validator_value} item(s)"
    if kind == "maxItems":
        return f"has more than {error.validator_value} items"
    if kind == "uniqueItems":
        return "contains the same item twice"
    return error.message


def _yaml_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "a mapping", type(None): "empty"}
    return names.get(type(value), type(value).__name__)


def _at(document: Document, path: NodePath, message: str, *, code: str,
        hint: str | None = None, key: bool = False, field: NodePath | None = None) -> Problem:
    position = document.where(path, key=key)
    return Problem(document.file, position.line, position.col,
                   field_path(field if field is not None else path), message, hint, code)
