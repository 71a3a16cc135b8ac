"""The one writer of Prometheus' text format (0.0.4) and OpenMetrics (1.0.0).

Names and label names are made to fit Prometheus' grammar here (`metric_name`,
`label_name`), help text and label values are escaped, and the format follows
the scraper's `Accept` header: OpenMetrics when it asks for it, else text.
"""

from __future__ import annotations

import functools
import math
import re

from ecli.metrics.families import Buckets, Family, Labels

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_NOT_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


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
    lines: list[str] = []
    for family in families:
        if family.samples:
            _family(lines, family, openmetrics)
    if openmetrics:
        lines.append("# EOF")
    return ("\n".join(lines) + "\n").encode("utf-8", "replace")


def _family(lines: list[str], family: Family, openmetrics: bool) -> None:
    name = family.name
    sample = f"{name}_total" if family.kind == "counter" else name
    described = sample if family.kind == "counter" and not openmetrics else name
    lines.append(f"# HELP {described} {_help(family.help)}")
    lines.append(f"# TYPE {described} {family.kind}")
    if family.kind == "histogram":
        for labels, value in family.samples.items():  # in map order: sorting buys nothing
            assert isinstance(value, Buckets)
            _histogram(lines, name, labels, value)
        return
    lines += [f"{_series(sample, labels)} {_number(value)}"  # type: ignore[arg-type]
              for labels, value in family.samples.items()]


def _histogram(lines: list[str], name: str, labels: Labels, value: Buckets) -> None:
    running = 0
    for bound, count in zip(value.bounds, value.counts, strict=True):
        running += count
        lines.append(f"{name}_bucket{_labels((*labels, ('le', _number(float(bound)))))} "
                     f"{running}")
    lines.append(f'{name}_bucket{_labels((*labels, ("le", "+Inf")))} {running}')
    if value.sum is not None:
        lines.append(f"{name}_sum{_labels(labels)} {_number(value.sum)}")
    lines.append(f"{name}_count{_labels(labels)} {running}")


@functools.lru_cache(maxsize=1 << 16)
def _series(sample: str, labels: Labels) -> str:
    """A series' name and labels, rendered once while it stays in use (scrapes repeat
    them)."""
    return sample + _labels(labels)


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels) + "}"


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
