"""The network: one HTTP transport that every read from a registry, a source or a URL uses.

Below ecli.oci and ecli.packages, and importing neither:

    base        the seam: the `Transport` protocol clients take, and `Response`
    transport   `HTTPTransport`, the one implementation (http.client, kept-alive
                connections, redirects, TLS, proxies)
    connection  one connection whose every socket operation ends by the deadline
    deadline    the overall deadline of one request (ECLI_HTTP_TIMEOUT)
    trust       which CA a host is trusted with (ECLI_CA_FILE, certs.d/HOST/ca.crt)
    proxies     which proxy the environment names for a URL
    basic       HTTP Basic credentials, encoded once

Modules are imported by name (this file imports none), so a command that
never touches the network never loads http.client or ssl.
"""
