"""The metric model every exporter writes out: families of samples, keyed by labels.

A family names its labels once (`label_names`); a sample's labels are only
their values, in that order, so 10,000 series hold 10,000 small tuples and no
(name, value) pairs. The values of a family are all text, or all integers
(key fields shown as the numbers they are, written out only by the exporters).
Values are plain numbers; a histogram's value is its buckets (per bucket, not
yet cumulative), their upper bounds and the sum when the program records it.
Samples whose labels are equal are added up (`Family.add`), so decoders that
map several keys to one label (a static table, a symbol) never repeat a series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Labels = tuple[str, ...] | tuple[int, ...]  # values, in the order of the label_names


@dataclass(slots=True)
class Buckets:
    bounds: list[float]  # ascending upper bounds (inclusive); +Inf is implied
    counts: list[int]  # one per bound
    sum: float | None = None

    @property
    def count(self) -> int:
        return sum(self.counts)

    def merge(self, other: Buckets) -> None:
        if len(other.bounds) > len(self.bounds):
            self.bounds = list(other.bounds)
            self.counts += [0] * (len(other.counts) - len(self.counts))
        for i, n in enumerate(other.counts):
            self.counts[i] += n
        if other.sum is not None:
            self.sum = (self.sum or 0) + other.sum


@dataclass(slots=True)
class Family:
    name: str  # valid in Prometheus' grammar; counters without their `_total`
    kind: str  # one of ecli.oci.config.METRIC_KINDS
    help: str
    label_names: tuple[str, ...] = ()  # valid label names, one per value of each sample
    samples: dict[Labels, float | Buckets] = field(default_factory=dict)

    def add(self, labels: Labels, value: float | Buckets) -> bool:
        """Add to the sample with these labels; True when that made a new series."""
        current = self.samples.get(labels)
        if current is None:
            self.samples[labels] = value
            return True
        if isinstance(current, Buckets) and isinstance(value, Buckets):
            current.merge(value)
        elif not isinstance(current, Buckets) and not isinstance(value, Buckets):
            self.samples[labels] = current + value
        return False
