"""CPython stand-in for MicroPython's ``tls`` module (what iotauth uses of it): an SSLContext
that takes CA certificates, the client certificate and its key as data (DER), as the board's
does, where CPython's reads the chain from PEM files only."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

from tools import x509

CERT_NONE = ssl.CERT_NONE
CERT_REQUIRED = ssl.CERT_REQUIRED
PROTOCOL_TLS_CLIENT = ssl.PROTOCOL_TLS_CLIENT


class SSLContext(ssl.SSLContext):
    def load_verify_locations(self, cadata=None, *args, **kw):  # the board's: data only
        super().load_verify_locations(cadata=cadata)

    def load_cert_chain(self, cert, key=None, *args):  # the board's: DER data, not paths
        cert_pem, key_pem = x509.pem_pair(cert, key)  # ValueError, as on the board
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "cert.pem").write_bytes(cert_pem)
            (Path(d) / "key.pem").write_bytes(key_pem)
            super().load_cert_chain(str(Path(d) / "cert.pem"), str(Path(d) / "key.pem"))
