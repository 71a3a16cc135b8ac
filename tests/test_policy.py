"""The operator's policy (policy.json, `ecli policy`): allowed references, the permission cap
with its trusted packages, and no-pull, enforced on real packages in a real registry.

A plain bundle (no declared signer) has `run-publisher-code` at `dangerous`: it stands for
the package a cap of `elevated` must refuse."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from test_hub_signatures import ecli_in, refused

from ecli.oci.store import Store

from pm_fixtures import index_document, push_bundle, write_catalog
from registry_server import RegistryServer


def ok(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = ecli_in(env, *args)
    assert done.returncode == 0, done.stderr
    return done


def stored(env: dict[str, str]) -> list[str]:
    """The digests of the artifacts in the content store."""
    root = Path(env["ECLI_HOME"]) / "cache" / "oci"
    return [d.digest for d in Store(root).refs()] if (root / "oci-layout").exists() else []


def installed(env: dict[str, str]) -> list[str]:
    return [p["name"] for p in json.loads(ok(env, "list", "--json").stdout)]


def policy_file(env: dict[str, str]) -> Path:
    return Path(env["ECLI_HOME"]) / "config" / "policy.json"


@pytest.fixture(scope="module")
def bundles(registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, str]:
    """`goodtool` and `badtool` 1.0.0 in the registry, and an index naming both: their
    digests, and the index folder under `api`."""
    tmp = tmp_path_factory.mktemp("policy")
    digests = {name: push_bundle(registry.host, tmp, name, "1.0.0")
               for name in ("goodtool", "badtool")}
    api = write_catalog(tmp / "api", [
        index_document(name, f"{registry.host}/pm/{name}", [("1.0.0", digest, None)])
        for name, digest in digests.items()])
    return {**digests, "api": str(api)}


def test_a_reference_outside_the_allow_list_is_refused_at_run_pull_and_install(
        registry: RegistryServer, bundles: dict[str, str], env: dict[str, str]):
    ok(env, "sources", "add", "test", bundles["api"])
    ok(env, "policy", "allow", f"{registry.host}/pm/good*")
    bad = f"{registry.host}/pm/badtool:1.0.0"
    for command in ("run", "pull", "install"):
        line = refused(ecli_in(env, command, *(["--yes"] if command == "run" else []), bad),
                       f"badtool: {bad} is not allowed by the policy (allowed: "
                       f"{registry.host}/pm/good*; {policy_file(env)})")
        assert line.startswith("ecli: error: ")
        # by name too: the index resolves it to its digest, and that is what is checked
        refused(ecli_in(env, command, "badtool"),
                f"badtool: {registry.host}/pm/badtool@{bundles['badtool']} is not allowed")
    assert stored(env) == [] and installed(env) == [], "nothing pulled, nothing installed"
    ran = ok(env, "run", "--yes", "goodtool", "x")
    assert ran.stdout.strip() == "hello 1.0.0 x"
    assert stored(env) == [bundles["goodtool"]]


def test_a_digest_allow_listed_exactly_runs_and_nothing_else_of_its_repository(
        registry: RegistryServer, bundles: dict[str, str], env: dict[str, str]):
    ok(env, "sources", "add", "test", bundles["api"])
    exact = f"{registry.host}/pm/badtool@{bundles['badtool']}"
    ok(env, "policy", "allow", exact)
    ran = ok(env, "run", "--yes", exact)
    assert ran.stdout.strip() == "hello 1.0.0"
    by_name = ok(env, "run", "--yes", "badtool")  # resolves to that digest
    assert by_name.stdout.strip() == "hello 1.0.0"
    # the same repository by tag is not that digest: refused before anything is asked
    refused(ecli_in(env, "pull", f"{registry.host}/pm/badtool:1.0.0"), "is not allowed")
    refused(ecli_in(env, "run", "--yes", "goodtool"),
            f"goodtool: {registry.host}/pm/goodtool@{bundles['goodtool']} is not allowed")


def test_a_cap_of_elevated_refuses_a_dangerous_package_even_with_yes_unless_trusted(
        registry: RegistryServer, bundles: dict[str, str], env: dict[str, str]):
    ref = f"{registry.host}/pm/badtool:1.0.0"
    assert ok(env, "run", "--yes", ref).stdout.strip() == "hello 1.0.0"  # the default cap
    ok(env, "policy", "set", "max-permission", "elevated")
    line = refused(ecli_in(env, "run", "--yes", ref),
                   f"badtool: {ref} has dangerous permissions and the policy allows at most "
                   f"elevated ({policy_file(env)})")
    assert "run-publisher-code" not in line.split("ecli: error:")[0]
    ok(env, "policy", "trust", bundles["badtool"])
    ran = ok(env, "run", "--yes", ref)
    assert ran.stdout.strip() == "hello 1.0.0"
    # trusted lifts the cap, not the question: without --yes and a terminal, still refused
    refused(ecli_in(env, "run", ref), "has dangerous permissions (run-publisher-code)")
    # a cap of info refuses even what is only elevated; trusting by name lets it through
    other = f"{registry.host}/pm/goodtool:1.0.0"
    ok(env, "policy", "set", "max-permission", "info")
    refused(ecli_in(env, "run", "--yes", other), "the policy allows at most info")
    ok(env, "policy", "trust", "goodtool")
    assert ok(env, "run", "--yes", other).stdout.strip() == "hello 1.0.0"


def test_no_pull_mode_runs_what_the_store_has_and_refuses_the_rest(
        registry: RegistryServer, bundles: dict[str, str], env: dict[str, str]):
    good, bad = (f"{registry.host}/pm/{name}:1.0.0" for name in ("goodtool", "badtool"))
    ok(env, "pull", good)
    ok(env, "policy", "set", "pull", "never")
    reason = f"the policy forbids pulling (pull = never in {policy_file(env)})"
    refused(ecli_in(env, "run", "--yes", bad),
            f"badtool: {bad} is not in the local store and {reason}")
    refused(ecli_in(env, "pull", bad), f"badtool: {bad} not pulled: {reason}")
    refused(ecli_in(env, "install", bad), f"{bad} is not in the local store and {reason}")
    assert stored(env) == [bundles["goodtool"]] and installed(env) == []
    ran = ok(env, "run", "--yes", good, "y")
    assert ran.stdout.strip() == "hello 1.0.0 y"


def test_policy_show_says_where_each_value_comes_from(bundles: dict[str, str],
                                                     env: dict[str, str]):
    shown = json.loads(ok(env, "policy", "show", "--json").stdout)
    assert shown == {"allowed": {"value": [], "from": "default"},
                     "trusted": {"value": [], "from": "default"},
                     "max_permission": {"value": "dangerous", "from": "default"},
                     "pull": {"value": "missing", "from": "default"}}
    ok(env, "policy", "allow", "ghcr.io/org/*")
    ok(env, "policy", "allow", "ghcr.io/org/*")  # once
    ok(env, "policy", "set", "max-permission", "elevated")
    shown = json.loads(ok(env, "policy", "show", "--json").stdout)
    where = str(policy_file(env))
    assert shown["allowed"] == {"value": ["ghcr.io/org/*"], "from": where}
    assert shown["max_permission"] == {"value": "elevated", "from": where}
    assert shown["pull"] == {"value": "missing", "from": "default"}
    ok(env, "sources", "add", "strict", bundles["api"], "--signatures", "require")
    sources_file = Path(env["ECLI_HOME"]) / "config" / "sources.json"
    shown = json.loads(ok(env, "policy", "show", "--json").stdout)
    assert shown["signatures.strict"] == {"value": "require",
                                          "from": f"source strict ({sources_file})"}
    text = ok(env, "policy", "show").stdout.splitlines()
    assert text[5].split() == ["signatures.strict", "require", "source", "strict",
                               f"({sources_file})"]
    assert text[0].split() == ["KEY", "VALUE", "FROM"]
    assert text[1].split() == ["allowed", "ghcr.io/org/*", where]
    assert text[3].split() == ["max_permission", "elevated", where]
    assert text[4].split() == ["pull", "missing", "default"]
    refused(ecli_in(env, "policy", "set", "max-permission", "root"),
            "policy max-permission 'root': expected one of info, elevated, dangerous")
    assert json.loads(policy_file(env).read_text())["max_permission"] == "elevated"
    ok(env, "policy", "reset", "max-permission")
    ok(env, "policy", "reset", "allowed")
    assert json.loads(policy_file(env).read_text()) == {}
    shown = json.loads(ok(env, "policy", "show", "--json").stdout)
    assert shown["allowed"] == {"value": [], "from": "default"}
    assert shown["max_permission"] == {"value": "dangerous", "from": "default"}


# (policy.json as written, what the one error line says after the file's path)
BAD_POLICIES = [
    ('{"pull": "sometimes"}', "pull: 'sometimes' is not one of missing, never"),
    ('{"max_permission": "root"}',
     "max_permission: 'root' is not one of info, elevated, dangerous"),
    ('{"allowed": "ghcr.io/*"}', "allowed: expected a list of non-empty strings"),
    ('{"trusted": [""]}', "trusted: expected a list of non-empty strings"),
    ('{"trusted": [1]}', "trusted: expected a list of non-empty strings"),
    ('{"alowed": []}', "alowed: unknown key (known: allowed, trusted, max_permission, pull)"),
    ('["ghcr.io/*"]', "expected a JSON object with keys allowed, trusted"),
    ('{"pull": ', "cannot read the policy file"),
]


@pytest.mark.parametrize(("content", "message"), BAD_POLICIES,
                         ids=[m.split(":")[0] for _, m in BAD_POLICIES])
def test_a_bad_policy_file_is_refused_with_the_file_and_key(
        content: str, message: str, registry: RegistryServer, env: dict[str, str]):
    path = policy_file(env)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    for command in (("policy", "show"), ("run", "--yes", f"{registry.host}/pm/goodtool:1.0.0"),
                    ("pull", f"{registry.host}/pm/goodtool:1.0.0")):
        refused(ecli_in(env, *command), f"{path}: {message}")
    assert stored(env) == []
