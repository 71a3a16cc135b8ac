"""The one writer of Prometheus' text format (0.0.4) and OpenMetrics (1.0.0).

Names and label names are made to fit Prometheus' grammar here (`metric_name`,
`label_name`), help text and label values are escaped, and the format follows
the scraper's `Accept` header: OpenMetrics when it asks for it, else text.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator
from itertools import chain, islice

from ecli.metrics.families import Buckets, Family, Labels

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_NOT_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
CHUNK = 512  # sample lines rendered, then encoded, at a time


def metric_name(text: str) -> str:
    """`text` as a metric name: [a-zA-Z_:][a-zA-Z0-9_:]*."""
    name = _NOT_NAME.sub("_", text) or "_"
    return f"_{name}" if name[0].isdigit() else name


def label_name(text: str) -> str:
    """`text` as a label name: [a-zA-Z_][a-zA-Z0-9_]*, never the reserved `__` prefix."""
    name = _NOT_LABEL.sub("_", text) or "_"
    name = f"_{name}" if name[0].isdigit() else name
    return "_" + name.lstrip("_") if name.startswith("__") else name


def wants_openmetrics(accept: str | None) -> bool:
    return bool(accept) and "application/openmetrics-text" in accept  # type: ignore[operator]


def render(families: list[Family], openmetrics: bool) -> bytes:
    """The body of a scrape, written straight into one buffer a few hundred lines at a
    time: a scrape of 10,000 series never holds all its lines as strings at once."""
    out = bytearray()
    for family in families:
        if family.samples:
            for chunk in _family(family, openmetrics):
                out += chunk.encode("utf-8", "replace")
    if openmetrics:
        out += b"# EOF\n"
    return out  # type: ignore[return-value]  # bytes-like: copying it would double it


def _family(family: Family, openmetrics: bool) -> Iterator[str]:
    name = family.name
    sample = f"{name}_total" if family.kind == "counter" else name
    described = sample if family.kind == "counter" and not openmetrics else name
    yield f"# HELP {described} {_help(family.help)}\n# TYPE {described} {family.kind}\n"
    escape = _needs_escaping(family)
    if family.kind == "histogram":
        for labels, value in family.samples.items():  # in map order: sorting buys nothing
            assert isinstance(value, Buckets)
            yield _histogram(name, family.label_names, escape(labels), value)
        return
    line = _template(sample, family.label_names) + " "
    samples = iter(family.samples.items())
    while chunk := list(islice(samples, CHUNK)):
        yield "".join([f"{line % escape(labels)}{_number(value)}\n"  # type: ignore[arg-type]
                       for labels, value in chunk])


def _histogram(name: str, names: tuple[str, ...], labels: Labels, value: Buckets) -> str:
    bucket = _template(f"{name}_bucket", (*names, "le"))
    lines, running = [], 0
    for bound, count in zip(value.bounds, value.counts, strict=True):
        running += count
        lines.append(f"{bucket % (*labels, _number(float(bound)))} {running}\n")
    lines.append(f"{bucket % (*labels, '+Inf')} {running}\n")
    if value.sum is not None:
        lines.append(f"{_template(f'{name}_sum', names) % labels} {_number(value.sum)}\n")
    lines.append(f"{_template(f'{name}_count', names) % labels} {running}\n")
    return "".join(lines)


@functools.lru_cache(maxsize=256)
def _template(sample: str, names: tuple[str, ...]) -> str:
    """A series line's name and labels with a %s for each label value (names are of
    [a-zA-Z0-9_], so no % of their own)."""
    if not names:
        return sample.replace("%", "%%")
    return sample + "{" + ",".join(f'{n}="%s"' for n in names) + "}"


def _needs_escaping(family: Family) -> Callable[[Labels], Labels]:
    """Escaping of label values, looked for once a family (one C-level pass over all its
    values): most families have none to escape (integers never do), and then their
    values go out as they are."""
    first = next(iter(family.samples), ())
    if first and type(first[0]) is int:  # a family's labels are all numbers or all text
        return lambda labels: labels
    values = "\0".join(chain.from_iterable(family.samples))  # type: ignore[arg-type]
    if "\\" in values or '"' in values or "\n" in values:
        return lambda labels: tuple(map(_escape, labels))
    return lambda labels: labels


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    return _CONTROLS.sub(" ", text.replace("\\", "\\\\").replace("\n", "\\n"))


def _number(value: float) -> str:
    if type(value) is int:
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
