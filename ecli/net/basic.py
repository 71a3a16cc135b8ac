"""HTTP Basic credentials, encoded once: registries, token services and proxies use it,
and docker's `auth` field in auth.json is the same base64 of `user:password`."""

from __future__ import annotations

import base64


def basic_token(username: str, password: str) -> str:
    """base64 of `user:password`."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def basic_header(username: str, password: str) -> str:
    """The value of an `Authorization` (or `Proxy-Authorization`) header for HTTP Basic."""
    return "Basic " + basic_token(username, password)
