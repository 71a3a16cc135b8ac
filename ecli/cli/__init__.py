"""The command line: a thin, lazily built layer over ecli's operations."""
