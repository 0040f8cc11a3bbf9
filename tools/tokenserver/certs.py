"""TLS material for the token server: a local CA and a server certificate (trustme), and a
device CA that issues the devices' client certificates for mutual TLS (RFC 8705)."""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tools import x509 as devicex509


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
        # The device CA: what tls_client_auth clients' certificates chain to.
        self.device_ca_pem = directory / "device-ca.pem"
        device_key = directory / "device-ca.key"
        if self.made or not (self.device_ca_pem.is_file() and device_key.is_file()):
            dca = trustme.CA(organization_name="iotauth device CA")
            dca.cert_pem.write_to_path(str(self.device_ca_pem))
            _secret(device_key, dca.private_key_pem.bytes())
        self.device_ca = x509.load_pem_x509_certificate(self.device_ca_pem.read_bytes())
        self._device_key = load_pem_private_key(device_key.read_bytes(), None)
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

    def server_context(self, clients: bool = False) -> ssl.SSLContext:
        """The server's context; with ``clients`` it asks each client for a certificate and
        takes one the device CA issued (or one registered later: ``State.register``)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.server_pem), str(self.server_key))
        if clients:
            # Optional: clients that authenticate otherwise send none. A certificate that
            # chains to no trusted one ends the handshake (OpenSSL cannot defer the check).
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(cafile=str(self.device_ca_pem))
        return ctx

    def issue(self, csr_der: bytes) -> bytes:
        """The device certificate (DER) the device CA issues for a CSR."""
        return devicex509.sign(csr_der, self.device_ca, self._device_key)


def _secret(path: Path, data: bytes) -> None:
    """A private key, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
