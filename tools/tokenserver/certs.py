"""TLS material for the token server: a local CA and a server certificate (trustme)."""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path

import trustme


def local_names() -> list[str]:
    """Loopback names plus this machine's own addresses, for a board on the LAN."""
    names = ["localhost", "127.0.0.1", "::1"]
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            addr = info[4][0]
            if addr not in names and not addr.startswith("fe80"):
                names.append(addr)
    except OSError:
        pass
    return names


class Certs:
    """A CA, a server certificate signed by it, and the files a client needs.

    Made once per directory and kept there: a device provisioned with the CA keeps trusting
    the server across restarts. The server certificate is issued again (by the same CA) only
    when the names it must cover change, e.g. the machine's address on the LAN.
    """

    def __init__(self, directory: Path, names: list[str] | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        names = list(names or local_names())
        self.ca_pem = directory / "ca.pem"
        self.ca_der = directory / "ca.der"
        self.server_pem = directory / "server.pem"
        self.server_key = directory / "server.key"
        ca_key = directory / "ca.key"
        covered = directory / "server.names"
        self.made = not (self.ca_pem.is_file() and ca_key.is_file())
        if self.made:
            self.ca = trustme.CA()
            self.ca.cert_pem.write_to_path(str(self.ca_pem))
            _secret(ca_key, self.ca.private_key_pem.bytes())
            self.ca_der.write_bytes(ssl.PEM_cert_to_DER_cert(self.ca.cert_pem.bytes().decode()))
        else:
            self.ca = trustme.CA.from_pem(self.ca_pem.read_bytes(), ca_key.read_bytes())
        fresh = self.server_pem.is_file() and self.server_key.is_file()
        if (
            self.made
            or not fresh
            or not covered.is_file()
            or covered.read_text() != " ".join(names)
        ):
            leaf = self.ca.issue_cert(*names)
            self.server_pem.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
            _secret(self.server_key, leaf.private_key_pem.bytes())
            covered.write_text(" ".join(names))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.server_pem), str(self.server_key))
        return ctx


def _secret(path: Path, data: bytes) -> None:
    """A private key, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
