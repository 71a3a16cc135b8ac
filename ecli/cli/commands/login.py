"""`ecli login REGISTRY`: check credentials against the registry, then store them (0600)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result
from ecli.errors import UsageError

EXAMPLES = """examples:
  ecli login ghcr.io --username me --password-stdin < token.txt
  ecli login 127.0.0.1:5443 -u me --password-stdin --ca-file ca.crt

Credentials go to ecli's auth.json (mode 0600). Without one there, ecli also
reads docker's ~/.docker/config.json and its credential helpers.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("registry", metavar="REGISTRY", help="registry host[:port]")
    parser.add_argument("-u", "--username", help="user name (asked when missing)")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password or token from standard input")
    parser.add_argument("--ca-file", type=Path, metavar="PEM",
                        help="trust this CA for the registry from now on (certs.d)")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.oci import credentials, registry

    host = credentials.check_host(args.registry)
    username = args.username
    if not username:
        if not sys.stdin.isatty():
            raise UsageError("--username is required when standard input is not a terminal")
        username = input("Username: ")
    if args.password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        raise UsageError("give --password-stdin to read the password from a pipe")
    if not password:
        raise UsageError("the password is empty")
    if args.ca_file:
        credentials.trust(ctx.paths, host, args.ca_file)
    registry.check_login(host, username, password)
    credentials.save(ctx.paths, host, credentials.Credential(username, password))
    result = Result(quiet=[])
    result.line(f"logged in to {host} as {username} (saved in {ctx.paths.credentials_file})")
    return result
