"""TLS material for the token server: a local CA and a server certificate (trustme)."""

from __future__ import annotations

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
    """A CA, a server certificate signed by it, and the files a client needs."""

    def __init__(self, directory: Path, names: list[str] | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert(*(names or local_names()))
        self.ca_pem = directory / "ca.pem"
        self.ca_der = directory / "ca.der"
        self.ca.cert_pem.write_to_path(str(self.ca_pem))
        self.ca_der.write_bytes(ssl.PEM_cert_to_DER_cert(self.ca.cert_pem.bytes().decode()))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.cert.configure_cert(ctx)
        return ctx
