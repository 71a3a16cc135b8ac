"""Finding and installing packages: from what a user types to a verified package on disk.

`targets` parses what was typed (names, ranges, references, paths, URLs);
`sources` and `index_client` read the configured JSON indexes, which
`index_update` fetches, checks and stores; `locate` turns
a target into a package in the store, pulling only when the policy allows;
`install`, `state` and `cache` keep what is installed; `inspection` reports
what a located package holds; `kernelmatrix` what the hub's kernel matrix
says about this machine.
"""
