"""The hub's generator: from the Git index to the static site and the JSON index.

    load      YAML with a position for every key and value, refusing hostile input
    schema    the entry's JSON Schema, errors mapped back to lines
    validate  schema plus semantic rules over a whole index; every rule runs
    lock      index/lock.json: the digests CI resolved, one owner, atomic writes
    resolve   tag references to manifest digests, asking the registry only when needed
    emit      the api/v1 documents, written only through ecli.hubindex.model
    search    the prebuilt lunr index the site's search page loads
    pages     the markdown pages mkdocs renders
    site      mkdocs build into a temporary directory, then the swap
    build     the whole pipeline behind `python -m generator build`

Only `__main__` prints and chooses exit codes; everything else returns data or
`Problem`s.
"""
