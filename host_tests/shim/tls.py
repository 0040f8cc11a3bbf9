"""CPython stand-in for MicroPython's ``tls`` module (what iotauth uses of it): an SSLContext
that takes CA certificates, the client certificate and its key as data (DER), as the board's
does, where CPython's reads the chain from PEM files only."""

from __future__ import annotations

import os
import ssl
import tempfile

from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

CERT_NONE = ssl.CERT_NONE
CERT_REQUIRED = ssl.CERT_REQUIRED
PROTOCOL_TLS_CLIENT = ssl.PROTOCOL_TLS_CLIENT


class SSLContext(ssl.SSLContext):
    def load_verify_locations(self, cadata=None, *args, **kw):  # the board's: data only
        super().load_verify_locations(cadata=cadata)

    def load_cert_chain(self, cert, key=None, *args):  # the board's: DER data, not paths
        # A key or certificate that does not parse is a ValueError, as on the board.
        try:
            pem = ssl.DER_cert_to_PEM_cert(cert).encode()
            k = load_der_private_key(key, None)
        except Exception as e:
            raise ValueError(str(e)) from None
        kpem = k.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        with tempfile.TemporaryDirectory() as d:
            c, p = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            with open(c, "wb") as f:
                f.write(pem)
            with open(p, "wb") as f:
                f.write(kpem)
            super().load_cert_chain(c, p)
