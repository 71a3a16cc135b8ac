"""HTML of the pages the generator fills in itself: package, author, all packages.

Everything a package author wrote is HTML-escaped here, except the
description, which goes through `sanitize.description_html` (nh3). Links are
relative to a page two levels deep (packages/NAME/, authors/LOGIN/), where the
page shells sit.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from ecli.hubindex import model
from ecli.oci.registry import is_plain_http
from generator.sanitize import description_html

UP = "../../"
LEVELS = {"info": "info", "elevated": "elevated", "dangerous": "dangerous"}
WASM_UNKNOWN = ("Unknown: no eBPF object was found inside this wasm module (it may build or "
                "unpack one). <code>ecli run</code> checks each object it loads and refuses one "
                "with a dangerous permission unless run with <code>--yes</code>.")

def package_page(document: model.PackageDocument, description: str | None = None) -> str:
    """The article of packages/NAME/; `description` is pre-rendered HTML when cached.

    Everything that belongs to one version (commands pinned to it, options,
    permissions, requirements, kernels, contents, metrics) sits in that
    version's panel; the picker's links show one panel through CSS `:target`
    (on the panel's anchor, hub-package.css), the default version's when none
    is targeted, so the picker needs neither a server nor a script. A section
    of another version that reads as the default's says so in one line: pages
    stay small when versions differ only by digest.
    """
    latest = next((v for v in document.versions if not v.yanked), None)
    shown = latest or (document.versions[0] if document.versions else None)
    parts = [
        f'<p class="hub-lead">{escape(document.summary)}</p>\n',
        _badges(document, latest),
        _signer(document),
        '<h2 id="run">Run it</h2>\n',
        copy_block(f"sudo ecli run {document.name}"),
        copy_block(f"ecli install {document.name}"),
    ]
    if document.example:
        parts += ['<h2 id="example">What it prints</h2>\n',
                  f'<pre class="hub-example"><code>{escape(document.example)}</code></pre>\n']
    if shown is not None:
        default = _details(document, shown)
        parts += [_picker(document, shown, latest), '<div class="hub-vpanels">\n',
                  *(_panel(document, v, shown, latest, default) for v in document.versions),
                  "</div>\n"]
    if document.description:
        html = description if description is not None else description_html(
            document.description)
        parts += ['<h2 id="description">Description</h2>\n',
                  f'<div class="hub-description">\n{html}\n</div>\n']
    parts += ['<h2 id="versions">Versions</h2>\n', _versions(document)]
    parts += ['<h2 id="about">About</h2>\n', _about(document)]
    return "".join(parts)


def _anchor(version: model.Version) -> str:
    return "v-" + quote(version.version, safe="")


def _picker(document: model.PackageDocument, shown: model.Version,
            latest: model.Version | None) -> str:
    """One link per version to its panel; the shown version's is marked as the default."""
    links = "".join(
        f'<a href="#{_anchor(v)}" class="hub-vlink{" hub-vdefault" if v is shown else ""}'
        f'{" hub-vyanked" if v.yanked else ""}">{escape(v.version)}'
        f'{" (latest)" if v is latest else " (yanked)" if v.yanked else ""}</a>'
        for v in document.versions)
    return f'<nav class="hub-vpicker" aria-label="Versions">Version: {links}</nav>\n'


def _details(document: model.PackageDocument,
             version: model.Version) -> list[tuple[str, str, str]]:
    """What one version needs and holds: (heading id, title, HTML) per section."""
    inspection = version.inspection
    found = []
    if inspection is not None and inspection.options:
        found.append(("options", "Options", _options(document.name, inspection.options)))
    if inspection is not None:
        found.append(("permissions", "Permissions", _permissions(inspection)))
    elif document.kind == "wasm":
        found.append(("permissions", "Permissions", f"<p>{WASM_UNKNOWN}</p>\n"))
    if version.requirements or inspection:
        found.append(("requirements", "Requirements", _requirements(version)))
    if version.kernels:
        found.append(("kernels", "Kernels", _kernels(version)))
    if inspection is not None and inspection.programs:
        found.append(("contents", "What is inside", _contents(inspection)))
    if inspection is not None and inspection.metrics:
        found.append(("metrics", "Metrics", _metrics(document.name, inspection)))
    return found


def _panel(document: model.PackageDocument, version: model.Version, shown: model.Version,
           latest: model.Version | None, default: list[tuple[str, str, str]]) -> str:
    """One version's panel; the default one (`shown`, whose `default` details are given)
    has the page's heading ids, its pull by digest and the raw manifest's link, the others
    only their anchor and their pinned run: a page of five versions stays within four
    disk blocks."""
    own = version is shown
    pinned = document.name if version is latest else f"{document.name}@{version.version}"
    # the anchor is a child, not the section's id: the theme names each code block after
    # the nearest element with an id, and the copy buttons of one panel would collide
    parts = [f'<section class="hub-vpanel{" hub-vshown" if own else ""}">'
             f'<span class="hub-vanchor" id="{_anchor(version)}"></span>\n',
             f'<h3{_id("version", own)}>Version {escape(version.version)}'
             + (f' <span class="hub-yanked">yanked: {escape(version.yanked)}</span>'
                if version.yanked else "") + "</h3>\n"]
    if version is not latest:
        parts.append(copy_block(f"sudo ecli run {pinned}"))
    if own:  # another version's digest is in the versions table, and `run NAME@V` pulls it
        parts.append(copy_block(f"ecli pull {version.repository}@{version.digest}"))
        parts.append(f'<p class="hub-download">Raw artifact: <a href="{escape(_raw_url(version))}"'
                     f' rel="nofollow noopener">OCI manifest of {escape(version.version)}</a> '
                     f"(pull it with any OCI client: oras, skopeo, crane).</p>\n")
    same = {} if own else {anchor: html for anchor, _, html in default}
    for anchor, title, html in default if own else _details(document, version):
        if same.get(anchor) == html:
            html = (f'<p class="hub-same">As in <a href="#{_anchor(shown)}">'
                    f"{escape(shown.version)}</a>.</p>\n")
        parts += [f"<h3{_id(anchor, own)}>{title}</h3>\n", html]
    parts.append("</section>\n")
    return "".join(parts)


def _id(anchor: str, own: bool) -> str:
    return f' id="{anchor}"' if own else ""


def _options(name: str, options: tuple[model.ProgramOption, ...]) -> str:
    """The program's own options, as `ecli run NAME -h` lists them."""
    rows = "".join(
        f"<tr><td><code>--{escape(o.flag)}</code></td><td><code>{escape(o.type)}</code></td>"
        f"<td>{escape(o.default) if o.default else '<em>empty</em>'}</td>"
        f"<td>{escape(o.description)}</td></tr>\n" for o in options)
    return (f"<p>As <code>ecli run {escape(name)} -h</code> lists them, from the object's "
            "<code>const volatile</code> globals; ecli's own (<code>--json</code>, "
            "<code>--duration</code>, ...) mix in.</p>\n"
            '<table class="hub-table hub-options">\n<thead><tr><th>Option</th><th>Type</th>'
            "<th>Default</th><th>Description</th></tr></thead>\n"
            f"<tbody>\n{rows}</tbody>\n</table>\n")


def author_page(owner: str, items: list[model.CatalogEntry]) -> str:
    return (
        f'<p><a href="https://github.com/{quote(owner)}" rel="nofollow noopener">'
        f"github.com/{escape(owner)}</a> maintains {len(items)} "
        f"package{'s' if len(items) != 1 else ''}.</p>\n" + cards(items, UP)
    )


def package_list(items: tuple[model.CatalogEntry, ...]) -> str:
    """All packages, one line each, for packages/ (a page one level deep)."""
    rows = "".join(
        f'<li><a href="{quote(item.name)}/">{escape(item.name)}</a> '
        f'<span class="hub-kind">{escape(item.kind)}</span> {escape(item.summary)}</li>\n'
        for item in items)
    return (f'<p>{len(items)} packages, by name. '
            '<a href="../search/">Search</a> to filter them.</p>\n'
            f'<ul class="hub-cards hub-all">\n{rows}</ul>\n')


def cards(items: list[model.CatalogEntry], prefix: str) -> str:
    rows = "".join(
        f'<li><a href="{prefix}packages/{quote(item.name)}/"><strong>{escape(item.name)}'
        f'</strong></a> <span class="hub-kind">{escape(item.kind)}</span>'
        + (f' <span class="hub-version">{escape(item.latest)}</span>' if item.latest else "")
        + f" <span>{escape(item.summary)}</span></li>\n"
        for item in items)
    return f'<ul class="hub-cards">\n{rows}</ul>\n'


def copy_block(text: str) -> str:
    """A command; the theme's content.code.copy feature gives it a copy button."""
    return f'<pre class="hub-command"><code>{escape(text)}</code></pre>\n'


def _badges(document: model.PackageDocument, latest: model.Version | None) -> str:
    badges = [("", f"kind: {document.kind}")]
    if latest is not None:
        badges.append(("", f"latest: {latest.version}"))
        if latest.inspection is not None:
            for permission in latest.inspection.dangerous:
                badges.append((" hub-danger", f"dangerous: {permission.id}"))
    if document.license:
        badges.append(("", f"license: {document.license}"))
    spans = " ".join(f'<span class="hub-badge{extra}">{escape(text)}</span>'
                     for extra, text in badges)
    return f'<p class="hub-badges">{spans}</p>\n'


def _signer(document: model.PackageDocument) -> str:
    """Who signs, or a visible warning that nobody does (what ecli will say at run)."""
    if document.signer is None:
        return ('<p class="hub-signer hub-unsigned"><span class="hub-badge hub-danger">'
                "unsigned</span> The index declares no signer for this package: nothing "
                "proves that what runs is what its publisher built. ecli runs it with a "
                "warning, and refuses it from a source with <code>--signatures require"
                "</code>.</p>\n")
    signer = document.signer
    if signer.fingerprint is None:
        return ('<p class="hub-signer hub-signed"><span class="hub-badge">signed</span> Signed '
                f'keyless by <code class="hub-identity">{escape(signer.identity or "")}</code> '
                f'(OIDC issuer <code class="hub-issuer">{escape(signer.issuer or "")}</code>): '
                "the hub verified every version's Sigstore bundle (a Fulcio certificate for "
                "this identity, logged in Rekor) when it was published, and ecli verifies it "
                "again before each run.</p>\n")
    return ('<p class="hub-signer hub-signed"><span class="hub-badge">signed</span> Signed by '
            f'<code class="hub-fingerprint">{escape(signer.fingerprint)}</code>: '
            "the hub verified every version's signature against this key when it was "
            "published, and ecli verifies it again before each run.</p>\n")


def _raw_url(version: model.Version) -> str:
    registry, _, repository = version.repository.partition("/")
    scheme = "http" if is_plain_http(registry) else "https"
    return f"{scheme}://{registry}/v2/{repository}/manifests/{version.digest}"


def _permissions(inspection: model.Inspection) -> str:
    if not inspection.permissions:
        return "<p>No special permissions found.</p>\n"
    rows = "".join(
        f'<li class="hub-permission hub-{LEVELS.get(p.level, "info")}">'
        f'<span class="hub-level">{escape(p.level)}</span> {escape(p.text)} '
        f"<code>{escape(p.id)}</code></li>\n" for p in inspection.permissions)
    return f'<ul class="hub-permissions">\n{rows}</ul>\n'


def _versions(document: model.PackageDocument) -> str:
    rows = []
    for version in document.versions:
        status = (f'<span class="hub-yanked">yanked: {escape(version.yanked)}</span>'
                  if version.yanked else "")
        platforms = ", ".join(f"{p.os}/{p.architecture}" for p in version.platforms)
        rows.append(
            f'<tr><td><a href="#{_anchor(version)}">{escape(version.version)}</a></td>'
            f'<td><code class="hub-digest">{escape(version.digest)}</code></td>'
            f"<td>{escape(platforms or 'any')}</td>"
            f"<td>{escape((version.published or '')[:10])}</td><td>{status}</td></tr>\n")
    return ('<table class="hub-table hub-versions">\n<thead><tr><th>Version</th><th>Digest'
            "</th><th>Platforms</th><th>Published</th><th>Status</th></tr></thead>\n"
            f"<tbody>\n{''.join(rows)}</tbody>\n</table>\n")


def _kernels(version: model.Version) -> str:
    """The kernel matrix of a version: one row per kernel and architecture, a failure's
    reason (the verifier's log) in a details row below it."""
    rows = []
    for found in version.kernels:
        result = escape(found.result)
        rows.append(f'<tr class="hub-kernel" data-kernel="{escape(found.kernel)}" '
                    f'data-arch="{escape(found.arch)}" data-result="{result}">'
                    f"<td><code>{escape(found.kernel)}</code></td><td>{escape(found.arch)}</td>"
                    f'<td><span class="hub-kresult hub-k{result}" title="{escape(found.reason)}">'
                    f"{result}</span></td><td>{escape(found.tested)}</td></tr>\n")
        if found.reason:
            rows.append(f'<tr class="hub-kernel-reason"><td colspan="4"><details><summary>'
                        f"why</summary><pre>{escape(found.reason)}</pre></details></td></tr>\n")
    return ('<p>Version ' + escape(version.version) + "'s test, run by ecli on each kernel of "
            "the hub's matrix (real kernels under qemu, and the hub's own).</p>\n"
            '<table class="hub-table hub-kernels">\n<thead><tr><th>Kernel</th><th>Arch</th>'
            "<th>Result</th><th>Tested</th></tr></thead>\n"
            f"<tbody>\n{''.join(rows)}</tbody>\n</table>\n")


def _requirements(version: model.Version) -> str:
    shown: dict[str, object] = dict(version.requirements)
    inspection = version.inspection
    if inspection is not None:
        if inspection.min_kernel and "min_kernel" not in shown:
            shown["min_kernel"] = f"{inspection.min_kernel} (found by inspection)"
        if inspection.capabilities and "capabilities" not in shown:
            shown["capabilities"] = inspection.capabilities
    rows = []
    for key, value in shown.items():
        text = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else (
            "yes" if value is True else "no" if value is False else str(value))
        rows.append(f"<tr><th>{escape(key.replace('_', ' '))}</th><td>{escape(text)}</td></tr>\n")
    return f'<table class="hub-table">\n<tbody>\n{"".join(rows)}</tbody>\n</table>\n'


def _contents(inspection: model.Inspection) -> str:
    programs = "".join(
        f"<tr><td><code>{escape(p.section)}</code></td><td>{escape(p.type)}</td>"
        f"<td>{escape(p.attach)}</td></tr>\n" for p in inspection.programs)
    rows = [f'<table class="hub-table">\n<thead><tr><th>Program section</th><th>Type</th>'
            f"<th>Attaches to</th></tr></thead>\n<tbody>\n{programs}</tbody>\n</table>\n"]
    facts = []
    if inspection.maps:
        facts.append(("Maps", ", ".join(f"{m.name} ({m.type})" for m in inspection.maps)))
    if inspection.helpers:
        facts.append(("Helpers", ", ".join(inspection.helpers)))
    if inspection.license:
        facts.append(("Object license", inspection.license))
    body = "".join(f"<tr><th>{label}</th><td>{escape(value)}</td></tr>\n"
                   for label, value in facts)
    if body:
        rows.append(f'<table class="hub-table">\n<tbody>\n{body}</tbody>\n</table>\n')
    return "".join(rows)


def _metrics(name: str, inspection: model.Inspection) -> str:
    """What `ecli run --metrics` serves, by name, so a dashboard can be written first."""
    rows = "".join(f'<li><code>{escape(m.name)}</code> <span class="hub-kind">'
                   f"{escape(m.kind)}</span></li>\n" for m in inspection.metrics)
    return (f"<p>Served at <code>/metrics</code> by <code>ecli run {escape(name)} --metrics "
            f"127.0.0.1:9435</code> (Prometheus), or pushed with <code>--otel-endpoint"
            f"</code> (OTLP):</p>\n<ul class=\"hub-metrics\">\n{rows}</ul>\n")


def _about(document: model.PackageDocument) -> str:
    rows = [("Owners", ", ".join(
        f'<a href="{UP}authors/{quote(o)}/">{escape(o)}</a>' for o in document.owners))]
    for label, url in (("Homepage", document.homepage), ("Source", document.source)):
        if url:
            rows.append((label, f'<a href="{escape(url)}" rel="nofollow noopener">'
                                f"{escape(url)}</a>"))
    if document.keywords:
        rows.append(("Keywords", escape(", ".join(document.keywords))))
    if document.categories:
        rows.append(("Categories", escape(", ".join(document.categories))))
    rows.append(("JSON", f'<a href="{UP}api/v1/packages/{quote(document.name)}.json">'
                         f"api/v1/packages/{escape(document.name)}.json</a>"))
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>\n" for label, value in rows)
    return f'<table class="hub-table">\n<tbody>\n{body}</tbody>\n</table>\n'
