"""ecli.semver: the order of versions, the two grammars, and the ranges users write."""

from __future__ import annotations

import itertools
import re

import pytest

from ecli import semver
from ecli.errors import ReferenceError_

# SemVer 2.0 §11's own example, lowest first.
PRECEDENCE = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
              "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0"]


def version(text: str) -> semver.Version:
    parsed = semver.parse_version(text)
    assert parsed is not None, text
    return parsed


def test_precedence_follows_semver_2():
    parsed = [version(text) for text in PRECEDENCE]
    assert [str(v) for v in sorted(reversed(parsed), key=semver.Version.key)] == PRECEDENCE
    assert all(a < b and a <= b and not b < a for a, b in itertools.pairwise(parsed))


def test_every_comparison_follows_the_precedence_not_the_tuple_order():
    """A Version is a named tuple, whose own order would put 1.0.0 before 1.0.0-rc.1
    (`()` < `("rc", "1")`): `>`, `>=`, sorted() and max() must all use the precedence."""
    parsed = [version(text) for text in PRECEDENCE]
    assert all(b > a and b >= a and not a > b and not a >= b
               for a, b in itertools.pairwise(parsed))
    assert [str(v) for v in sorted(reversed(parsed))] == PRECEDENCE
    assert str(max(parsed[:8])) == "1.0.0" and str(min(parsed[5:8])) == "1.0.0-beta.11"


def test_build_metadata_is_ignored_for_order_and_equality():
    assert semver.parse_published("1.2.3+linux.amd64") == semver.parse_published("1.2.3+other")
    assert version("1.2.3-rc.1+b") == version("1.2.3-rc.1")
    assert str(version("1.2.3+b")) == "1.2.3"


@pytest.mark.parametrize(("text", "read"), [
    ("1.2.3", "1.2.3"), ("v1.2", "1.2.0"), ("1", "1.0.0"), (" 1.2.3 ", "1.2.3"),
    ("1.2.3-rc.1+build", "1.2.3-rc.1"), ("0.0.0", "0.0.0"),
])
def test_what_a_user_may_type_as_a_version(text: str, read: str):
    assert str(version(text)) == read
    assert semver.is_version(text)


@pytest.mark.parametrize("text", ["", "x", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.3-a..b", "1.-2",
                                  "latest", "^1.2"])
def test_what_is_no_version_at_all(text: str):
    assert semver.parse_version(text) is None
    assert semver.parse_published(text) is None


@pytest.mark.parametrize("text", ["1.2.3", "0.0.0", "1.2.3-rc.1", "1.2.3-0", "1.2.3-x-y.7",
                                  "1.2.3+build.5", "10.20.30-alpha.beta+exp.sha.5114f85"])
def test_published_versions_are_strict_semver(text: str):
    assert semver.parse_published(text) == version(text)


@pytest.mark.parametrize("text", ["v1.2.3", "1.2", "1", " 1.2.3", "1.2.3\n", "1.2.3-01",
                                  "1.02.3", "1.2.3+", "1.2.3+a..b", "1.2.3-rc.1 "])
def test_published_versions_refuse_what_users_may_type(text: str):
    """The two grammars differ on purpose: the index publishes only strict SemVer 2.0."""
    assert semver.parse_published(text) is None


CANDIDATES = ["0.0.3", "0.0.4", "0.3.0", "0.3.1", "0.3.9", "0.4.0", "1.1.9", "1.2.0-rc.1",
              "1.2.0-rc.2", "1.2.0", "1.2.5", "1.3.0-rc.1", "1.9.9", "2.0.0-rc.1", "2.0.0",
              "2.5.0", "3.0.0"]


@pytest.mark.parametrize(("text", "matching"), [
    ("1.2.0", ["1.2.0"]),
    ("=1.2.0", ["1.2.0"]),
    ("1.2.0-rc.1", ["1.2.0-rc.1"]),
    ("^1.2", ["1.2.0", "1.2.5", "1.9.9"]),
    ("^0.3.1", ["0.3.1", "0.3.9"]),
    ("^0.0.3", ["0.0.3"]),
    ("^0", ["0.0.3", "0.0.4", "0.3.0", "0.3.1", "0.3.9", "0.4.0"]),
    ("~1.2", ["1.2.0", "1.2.5"]),
    ("~1", ["1.1.9", "1.2.0", "1.2.5", "1.9.9"]),
    ("~0.3.1", ["0.3.1", "0.3.9"]),
    ("1.2.x", ["1.2.0", "1.2.5"]),
    ("1.*", ["1.1.9", "1.2.0", "1.2.5", "1.9.9"]),
    ("2", ["2.0.0", "2.5.0"]),
    ("*", [c for c in CANDIDATES if "-" not in c]),
    (">=1.2 <2", ["1.2.0", "1.2.5", "1.9.9"]),
    (">= 1.2, < 2", ["1.2.0", "1.2.5", "1.9.9"]),
    (">1.2", ["1.9.9", "2.0.0", "2.5.0", "3.0.0"]),  # >1.2 is past the whole 1.2 series
    (">1.2.0 <=1.9", ["1.2.5", "1.9.9"]),
    ("<0.3.1", ["0.0.3", "0.0.4", "0.3.0"]),
    ("<=0.3", ["0.0.3", "0.0.4", "0.3.0", "0.3.1", "0.3.9"]),
    ("^1.2 || ^3", ["1.2.0", "1.2.5", "1.9.9", "3.0.0"]),
    ("v1.2.x", ["1.2.0", "1.2.5"]),
    # pre-releases only when the range names one of the same MAJOR.MINOR.PATCH
    ("^1.2.0-rc.1", ["1.2.0-rc.1", "1.2.0-rc.2", "1.2.0", "1.2.5", "1.9.9"]),
    (">=2.0.0-rc.1", ["2.0.0-rc.1", "2.0.0", "2.5.0", "3.0.0"]),
])
def test_range_matches_exactly_these(text: str, matching: list[str]):
    wanted = semver.parse_range(text)
    assert [c for c in CANDIDATES if wanted.matches(version(c))] == matching


def test_best_is_the_highest_match_and_skips_what_is_no_version():
    assert semver.parse_range("^1").best(["1.0.0", "garbage", "1.9.9", "2.0.0", "1.10.0-rc.1"]
                                         ) == "1.9.9"
    assert semver.parse_range("^4").best(CANDIDATES) is None


@pytest.mark.parametrize(("text", "message"), [
    ("", "an empty version range"),
    ("   ", "an empty version range"),
    ("^", "'^' is not a version or range"),
    ("latest", "'latest' is not a version or range"),
    ("1.2.3.4", "'1.2.3.4' is not a version or range"),
    (">=1 <two", "'>=1 <two': '<two' is not a version or range"),
    ("~foo", "'~foo' is not a version or range"),
    (">>1", "'>>1' is not a version or range"),
    ("1 ||", "'1 ||': an empty alternative in the version range"),
    ("|| 1", "'|| 1': an empty alternative in the version range"),
])
def test_a_bad_range_is_one_error_naming_the_bad_part(text: str, message: str):
    with pytest.raises(ReferenceError_, match=f"^{re.escape(message)}$"):
        semver.parse_range(text)
