"""How `ecli run` runs the package kinds other than `bpf` (DESIGN.md §5)."""
