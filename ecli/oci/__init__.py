"""OCI artifacts: media types and config, references, the local store, registries."""
