"""ecli: find, pull and run eBPF programs from eBPF Hub and any OCI registry."""

__version__ = "0.1.0"
