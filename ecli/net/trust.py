"""Which CA a host is trusted with, beside the system's roots.

Where docker keeps them: `certs.d/HOST[:PORT]/ca.crt` under ecli's config
folder (`ecli login --ca-file` writes it, through `ca_path`), so a registry,
an index mirror or a download host with a private certificate is trusted on
every path alike. `ECLI_CA_FILE=PEM` names one CA for every host instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ecli.errors import TransportError
from ecli.paths import Paths

if TYPE_CHECKING:
    import ssl

CA_FILE_ENV = "ECLI_CA_FILE"


def ca_path(paths: Paths, host: str) -> Path:
    """Where the CA of `host` (as in a URL: `name[:port]`) is kept."""
    return paths.certs_dir / host / "ca.crt"


def ca_file(host: str, paths: Paths | None = None) -> Path | None:
    """The CA to trust for `host`: ECLI_CA_FILE, else certs.d/HOST/ca.crt if there is one."""
    explicit = os.environ.get(CA_FILE_ENV)
    if explicit:
        return Path(explicit)
    candidate = ca_path(paths or Paths.from_environment(), host)
    return candidate if candidate.is_file() else None


def tls_context(cas: Sequence[Path], host: str) -> ssl.SSLContext:
    """A verifying client context: the system's roots, plus `cas`."""
    import ssl

    context = ssl.create_default_context()
    for ca in cas:
        try:
            context.load_verify_locations(cafile=str(ca))
        except (OSError, ssl.SSLError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            reason = f"cannot load the CA file {ca}: {str(detail).lower()}"
            raise TransportError(f"TLS error talking to {host}: {reason}", kind="tls",
                                 host=host, reason=reason) from None
    return context
