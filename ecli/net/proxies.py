"""Which proxy the environment names for a URL, as curl and requests read it.

`https_proxy`, `http_proxy` and `all_proxy` (lowercase first, then
uppercase) name an `http://[user:pass@]host[:port]` proxy; `no_proxy` lists
hosts that bypass it: `*` for all, else names matched exactly or as a domain
suffix (`example.com` and `.example.com` both cover `a.example.com`), with
an optional `:port`. HTTPS goes through a CONNECT tunnel, plain HTTP in
absolute form (the transport's business); this module only decides.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from ecli.errors import TransportError
from ecli.net.basic import basic_header

_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


@dataclass(frozen=True)
class Proxy:
    """Where to connect instead of the host, and the headers the proxy wants."""

    netloc: str
    headers: dict[str, str] = field(default_factory=dict)


def proxy_for(scheme: str, netloc: str, env: Mapping[str, str] = os.environ) -> Proxy | None:
    """The proxy the environment names for `scheme://netloc`, if any and not bypassed."""
    if not any(name.lower() in _VARIABLES for name in env):
        return None  # the usual case
    url = _variable(env, f"{scheme}_proxy") or _variable(env, "all_proxy")
    if not url or bypassed(netloc, _variable(env, "no_proxy")):
        return None
    return _parse(url, netloc)


def bypassed(netloc: str, no_proxy: str) -> bool:
    """True when `no_proxy` lists the host of `netloc` (with or without its port)."""
    parts = urllib.parse.urlsplit(f"//{netloc}")
    host = (parts.hostname or "").lower()
    port = netloc.rpartition(":")[2] if not netloc.endswith("]") else ""
    with_port = f"{host}:{port}" if port.isdigit() else host
    for entry in no_proxy.split(","):
        entry = entry.strip().lstrip(".").lower().replace("[", "").replace("]", "")
        if entry == "*":
            return True
        if entry and any(name == entry or name.endswith("." + entry)
                         for name in (host, with_port)):
            return True
    return False


def _variable(env: Mapping[str, str], name: str) -> str:
    return env.get(name) or env.get(name.upper()) or ""


def _parse(url: str, target: str) -> Proxy:
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        reason = f"the proxy {url!r} is not an http:// URL"
        raise TransportError(f"cannot reach {target}: {reason}", kind="unreachable",
                             host=target, reason=reason)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    headers = {}
    if parts.username:
        headers["Proxy-Authorization"] = basic_header(
            urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
    return Proxy(f"{host}:{parts.port or 80}", headers)
