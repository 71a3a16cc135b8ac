"""The network: one HTTP transport that every read from a registry, a source or a URL uses."""
