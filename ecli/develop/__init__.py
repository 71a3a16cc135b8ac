"""The developer flow: `ecli init`, `ecli build` and `ecli publish`.

`scaffold` writes a project from `ecli/templates/`; `build` and `toolchains`
turn it into an OCI artifact (with `bundle_archive` for user-space bundles);
`publish` writes the version into a checkout of the hub's index.
"""
