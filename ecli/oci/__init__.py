"""OCI: the artifact formats and everything that talks to registries.

Formats first (`mediatypes`, `reference`, `manifest`, `config`: the package
config blob), then the local content store (`store`), turning manifests into
runnable packages (`artifact`), image-layout archives (`archive`), and the
registry client (`registry`, with `auth` for 401 challenges, `credentials`
for who we are, `mirrors` for where else to pull from). `tarsafe` extracts
the tar layers nobody has vetted. HTTP itself is `ecli.net`.
"""
