"""Where ecli keeps its files: one object resolves every path.

Order of precedence: ECLI_HOME (everything under one folder, handy for tests
and for operators), then the XDG variables, then the XDG defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


class Paths(NamedTuple):
    config_dir: Path
    cache_dir: Path
    state_dir: Path

    @classmethod
    def from_environment(cls, env: os._Environ[str] | dict[str, str] = os.environ) -> Paths:
        home = env.get("ECLI_HOME")
        if home:
            root = Path(home)
            return cls(root / "config", root / "cache", root / "state")
        user_home = Path(env.get("HOME") or Path.home())
        return cls(
            Path(env.get("XDG_CONFIG_HOME") or user_home / ".config") / "ecli",
            Path(env.get("XDG_CACHE_HOME") or user_home / ".cache") / "ecli",
            Path(env.get("XDG_STATE_HOME") or user_home / ".local" / "state") / "ecli",
        )

    @property
    def sources_file(self) -> Path:
        """The configured sources (JSON index URLs or folders)."""
        return self.config_dir / "sources.json"

    @property
    def policy_file(self) -> Path:
        """The operator's policy: allowed references, permission cap, pulling
        (ecli.packages.policy)."""
        return self.config_dir / "policy.json"

    @property
    def index_cache_dir(self) -> Path:
        """Cached JSON index documents, one folder per source."""
        return self.cache_dir / "index"

    @property
    def oci_store_dir(self) -> Path:
        """The content store: an OCI image layout holding every pulled blob."""
        return self.cache_dir / "oci"

    @property
    def state_file(self) -> Path:
        """Installed packages: name, version, digest, source, time (ecli.packages.state)."""
        return self.state_dir / "installed.json"

    @property
    def credentials_file(self) -> Path:
        """Registry credentials written by `ecli login` (mode 0600)."""
        return self.config_dir / "auth.json"

    @property
    def mirrors_file(self) -> Path:
        """Registry mirrors: registry host -> mirror hosts, tried in order."""
        return self.config_dir / "mirrors.json"

    @property
    def certs_dir(self) -> Path:
        """Trusted CAs per registry, as docker's certs.d: HOST[:PORT]/ca.crt."""
        return self.config_dir / "certs.d"

    @property
    def bundles_dir(self) -> Path:
        """Extracted bundles, one folder per layer digest (ecli.packages.bundles)."""
        return self.cache_dir / "bundles"

    @property
    def downloads_dir(self) -> Path:
        """Files fetched from https:// targets, named by their digest."""
        return self.cache_dir / "downloads"

    @property
    def verified_dir(self) -> Path:
        """Signatures already checked, one empty file per (artifact, signature manifest,
        key) (ecli.packages.signing): a cached run does not check the same bytes twice."""
        return self.cache_dir / "verified"

    @property
    def archives_dir(self) -> Path:
        """The index entries `ecli load` took from archives: one local source per archive
        (ecli.packages.airgap)."""
        return self.state_dir / "archives"

    @property
    def tmp_dir(self) -> Path:
        """The cache's temporary area: partial downloads and extractions."""
        return self.cache_dir / "tmp"

    @property
    def index_versions_file(self) -> Path:
        """The highest signed root version accepted from each source (ecli.packages.indextrust):
        state, not cache, so clearing the cache does not reopen the door to a replayed root."""
        return self.state_dir / "index-versions.json"

    @property
    def runs_dir(self) -> Path:
        """Detached runs: one JSON record and one log file per run."""
        return self.state_dir / "runs"
