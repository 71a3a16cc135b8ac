"""The hub's generator: from the Git index to the static site and the JSON index.

Reading and checking entries (`python -m generator validate`, `check-pr`):

    load          YAML with a position for every key and value, refusing hostile input
    schema        the entry's JSON Schema (index/schema/v1.json), errors mapped to lines
    validate      schema plus semantic rules over a whole index; every rule runs
    spdx          license identifiers checked against the SPDX list
    problems      `Problem`: file, line, column, field path, message, hint, code
    entry         the in-memory form of a valid entry, all later steps read
    checkpr       rules about a change: owners, immutable published versions

Versions are ordered by `ecli.semver` (`parse_published`, strict SemVer 2.0);
text is checked with `ecli.text.control_characters`.

Pinning what was published (`resolve`, `inspect`):

    lock          index/lock.json: the digests CI resolved, one owner, atomic writes
    resolve       tag references to manifest digests, asking the registry only when needed
    inspection    index/inspection.json: what ecli's analysis found in each artifact
    inspectlines  that file read one digest per line, for rebuilds

Building the site (`build`):

    emit          the api/v1 documents, written only through ecli.hubindex.model
    search        the sharded search index the site's search page loads
    pages         the few pages mkdocs renders (home, search, about, page shells)
    shell         package and author pages cut from a shell mkdocs renders once
    render        the HTML of package, author and list pages, author text escaped
    sanitize      descriptions from markdown to HTML cleaned by nh3
    fill          shells filled, api/v1 per package, feed and sitemap written
    feed          feed.xml, an Atom feed that stays well-formed whatever entries hold
    stats         the optional download counts behind "Popular"
    site          mkdocs build into a temporary directory, then the swap
    buildcache    what a rebuild reuses: validated entries, rendered outputs

Proving packages on kernels (`kernels`, docs/developer-guide.md "The kernel matrix"):

    kernels.toml    the matrix: the host, Debian meta-packages for each guest kernel
    guestkernels    kernels and the arm64 userland from Debian with apt; guest modules
    guest           one qemu TCG boot over the host's root (virtiofs), its console
    pkgtest         an entry's own test; standard library only (the arm64 guest runs it)
    kernelmatrix    every version pulled, run on each kernel; KernelResult records
    kernelresults   index/kernels.json: read, merge, write; merged into api/v1 by emit

    commands      each command as a function returning data; `__main__` renders it
    helper_table  a developer tool: ecli's BPF helper table from libbpf's header

Only `__main__` prints and chooses exit codes; everything else returns data or
`Problem`s.
"""
