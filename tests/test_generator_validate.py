"""`python -m generator validate`: every problem, with its file, line, column and field.

The corpus in tests/bad_index/ holds one file per kind of bad entry; each file
lists the problems it must produce in `# expect:` lines (see its README).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.__main__ import main
from generator.load import MAX_DEPTH, load_bytes

REPO = Path(__file__).resolve().parent.parent
INDEX = REPO / "index"
CORPUS = REPO / "tests" / "bad_index"
EXPECT = re.compile(rb"^# expect: (\d+):(\d+) (\S+) (.+)$", re.M)
PROBLEM = re.compile(r"^(.+?):(\d+):(\d+): (.+) \[([a-z-]+)\]$")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)


def problem_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if PROBLEM.match(line)]


def test_unknown_key_bad_semver_and_missing_name_give_three_located_errors(tmp_path: Path):
    entry = tmp_path / "tool.yaml"
    entry.write_text(
        "kind: bpf\n"
        "summary: a tool without a name\n"
        "owners: [ebpfhub]\n"
        "license: MIT\n"
        "colour: blue\n"
        "versions:\n"
        '  - version: "1.2"\n'
        "    ref: ghcr.io/ebpfhub/tool:1.2\n"
    )
    done = run_cli("validate", "--index", str(INDEX), str(entry))
    assert done.returncode == 1, done.stdout + done.stderr
    assert problem_lines(done.stdout) == [
        f"{entry}:1:1: name: missing required key 'name' [missing]",
        f"{entry}:5:1: colour: unknown key 'colour' [unknown-key]",
        f"{entry}:7:14: versions[0].version: '1.2' is not a semantic version [pattern]",
    ]
    assert "hint: " in done.stdout  # each problem says how to fix it
    assert done.stdout.rstrip().endswith("3 problem(s)")


CORPUS_FILES = sorted(CORPUS.glob("*.yaml"))


def test_corpus_is_big_enough():
    assert len(CORPUS_FILES) >= 40


def expected_problems(path: Path) -> list[tuple[int, int, str, str]]:
    """The `# expect: LINE:COL FIELD MESSAGE-PART` lines of a corpus file."""
    expected = [(int(line), int(col), field.decode(), message.decode())
                for line, col, field, message in EXPECT.findall(path.read_bytes())]
    assert expected, f"{path.name} has no '# expect:' lines"
    return expected


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_bad_entry_reports_expected_problems(path: Path, capsys: pytest.CaptureFixture[str]):
    expected = expected_problems(path)
    code = main(["validate", "--index", str(INDEX), str(path)])
    output = capsys.readouterr().out
    assert code == 1
    found = problem_lines(output)
    assert len(found) == len(expected), output
    for line, col, field, message in expected:
        prefix = f"{path}:{line}:{col}: " + ("" if field == "-" else f"{field}: ")
        assert any(p.startswith(prefix) and message in p for p in found), (
            f"no problem {prefix}...{message}... in:\n{output}")


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]):
    entry = tmp_path / "huge.yaml"
    entry.write_bytes(b"name: huge\ndescription: |\n" + b"  " + b"x" * 78 + b"\n" * 1
                      + (b"  " + b"x" * 78 + b"\n") * (2 * 1024 * 1024 // 81))
    assert entry.stat().st_size > 2_000_000
    assert main(["validate", "--index", str(INDEX), str(entry)]) == 1
    assert problem_lines(capsys.readouterr().out) == [
        f"{entry}:1:1: file is larger than the limit of 1024 KiB [too-large]"]


def test_real_index_validates_clean():
    done = run_cli("validate", "--index", str(INDEX))
    assert done.returncode == 0, done.stdout
    entries = len(list((INDEX / "packages").glob("*.yaml")))
    assert done.stdout == f"ok: {entries} file(s), {entries} valid package(s)\n"


def test_whole_index_run_reports_every_file_and_cross_entry_rules(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    index = tmp_path / "index"
    shutil.copytree(INDEX / "schema", index / "schema")
    (index / "packages").mkdir()
    shutil.copy(INDEX / "packages" / "opensnoop.yaml", index / "packages" / "opensnoop.yaml")
    shutil.copy(CORPUS / "unknown-key.yaml", index / "packages" / "unknown-key.yaml")
    shutil.copy(CORPUS / "bad-semver.yaml", index / "packages" / "bad-semver.yaml")
    (index / "packages" / "stray.yml").write_text("name: stray\n")
    (index / "featured.yaml").write_text("featured:\n  - opensnoop\n  - nosuchtool\n")
    assert main(["validate", "--index", str(index)]) == 1
    found = problem_lines(capsys.readouterr().out)
    files = {PROBLEM.match(p).group(1) for p in found}
    assert files == {str(index / "packages" / "unknown-key.yaml"),
                     str(index / "packages" / "bad-semver.yaml"),
                     str(index / "packages" / "stray.yml"),
                     str(index / "featured.yaml")}
    assert f"{index / 'featured.yaml'}:3:5: featured[1]: no package named 'nosuchtool' " \
           "[featured]" in found
    assert len(found) == 2 + 2 + 1 + 1


def test_readme_inside_the_index_becomes_the_description(tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(INDEX / "schema", index / "schema")
    (index / "packages").mkdir()
    (index / "docs").mkdir()
    (index / "docs" / "tool.md").write_text("# Tool\n\nLong text.\n")
    (index / "packages" / "tool.yaml").write_text(
        "name: tool\nkind: bpf\nsummary: s\nowners: [a]\nlicense: MIT\n"
        "readme: ../docs/tool.md\nversions:\n  - {version: 1.0.0, ref: 'ghcr.io/a/tool:1.0.0'}\n")
    from generator.validate import validate_index

    result = validate_index(index)
    assert result.problems == []
    assert result.index.entries["tool"].description.startswith("# Tool")


def test_readme_holding_control_characters_is_refused_at_the_readme_key(tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(INDEX / "schema", index / "schema")
    (index / "packages").mkdir()
    (index / "packages" / "tool.md").write_text("# Tool\n\ntabs\tare fine\n"
                                                "but \x1b[2J is not, nor \u202e\n")
    (index / "packages" / "tool.yaml").write_text(
        "name: tool\nkind: bpf\nsummary: s\nowners: [a]\nlicense: MIT\n"
        "readme: tool.md\nversions:\n  - {version: 1.0.0, ref: 'ghcr.io/a/tool:1.0.0'}\n")
    from generator.validate import validate_index

    result = validate_index(index)
    assert [(p.line, p.field_path, p.code, p.message) for p in result.problems] == [
        (6, "readme", "control-character",
         "'tool.md' holds the control characters \\x1b, \\u202e (first on its line 4)")]
    assert result.index.entries == {}


def test_loader_keeps_positions_of_keys_and_values():
    document, problems = load_bytes(b"name: x\nversions:\n  - version: 1.0.0\n    ref: r\n",
                                    "f.yaml")
    assert problems == []
    assert document is not None
    assert document.keys[("versions", 0, "ref")].line == 4
    assert document.values[("versions", 0, "version")].col == 14
    assert document.where(("versions", 0, "missing")).line == 3  # nearest ancestor


@pytest.mark.parametrize(("text", "message"), [
    (b"a: " + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"\n", "nesting is deeper"),
    (b"a: 1\n---\nb: 2\n", "only one YAML document"),
    (b"", "file is empty"),
    (b"a: b\x07\n", "is not allowed in YAML"),
    (b"{1: x}\n", "is not a string"),
])
def test_loader_refuses_hostile_or_odd_yaml(text: bytes, message: str):
    _, problems = load_bytes(text, "f.yaml")
    assert any(message in p.message for p in problems), problems


@pytest.mark.parametrize("path", [*CORPUS_FILES, INDEX / "packages" / "opensnoop.yaml"],
                         ids=lambda p: p.stem)
def test_fast_schema_check_agrees_with_jsonschema(path: Path):
    """fastjsonschema only short-cuts valid files; it must never pass what jsonschema fails.

    A file the loader refuses never reaches either schema check: then the
    loader's own problems must be the file's expected ones, each at its place.
    """
    from fastjsonschema import JsonSchemaException

    from generator import schema

    document, problems = load_bytes(path.read_bytes(), str(path))
    if document is None:
        assert problems, "a document that did not load must say why"
        found = {(p.line, p.col, p.field_path or "-", p.message) for p in problems}
        assert len(found) == len(expected_problems(path)), found
        for line, col, field, message in expected_problems(path):
            assert any((at_line, at_col, at_field) == (line, col, field) and message in text
                       for at_line, at_col, at_field, text in found), (line, col, message, found)
        return
    slow = list(schema.validator(INDEX / "schema", schema.ENTRY_SCHEMA).iter_errors(
        document.data))
    try:  # any other exception is a crash of the validator, and fails the test
        schema.fast_validator(INDEX / "schema", schema.ENTRY_SCHEMA)(document.data)
        fast_ok = True
    except JsonSchemaException:
        fast_ok = False
    assert fast_ok == (slow == [])


def test_a_bad_entry_in_the_index_publishes_nothing(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]):
    index = tmp_path / "index"
    shutil.copytree(INDEX, index)
    shutil.copy(CORPUS / "0pensnoop.yaml", index / "packages" / "0pensnoop.yaml")
    out = tmp_path / "site"
    assert main(["build", "--index", str(index), "--offline", "--out", str(out),
                 "--config", str(REPO / "mkdocs.yml")]) == 1
    output = capsys.readouterr().out
    assert f"{index / 'packages' / '0pensnoop.yaml'}:1:7: name: '0pensnoop' looks like" in output
    assert not out.exists() and not (tmp_path / "site.tmp").exists()
