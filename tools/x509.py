"""X.509 material for a device's mutual TLS (RFC 8705), made with ``cryptography``.

A device proves itself with an EC P-256 key: either with a certificate its platform's device
CA issues from a CSR (``tls_client_auth``: the server matches the subject DN) or with a
self-signed one registered with its client (``self_signed_tls_client_auth``: the server
matches the certificate). Everything is DER, which mbedtls on the board reads without PEM.
"""

from __future__ import annotations

import base64
import datetime
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAYS = 3650  # a device certificate outlives the device's service; revoke it to end it


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 DER: the board has no passphrase to open it with."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def csr(key: ec.EllipticCurvePrivateKey, common_name: str) -> bytes:
    """A certificate signing request (DER) for the platform's device CA."""
    req = x509.CertificateSigningRequestBuilder().subject_name(name(common_name))
    return req.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def self_signed(key: ec.EllipticCurvePrivateKey, common_name: str, days: int = DAYS) -> bytes:
    """A self-signed client certificate (DER), to register with the client."""
    return _issue(name(common_name), key.public_key(), name(common_name), key, days)


def sign(csr_der: bytes, ca_cert: x509.Certificate, ca_key, days: int = DAYS) -> bytes:
    """The device certificate (DER) a device CA issues for a CSR whose signature holds."""
    req = x509.load_der_x509_csr(csr_der)
    if not req.is_signature_valid:
        raise ValueError("the CSR's signature does not verify")
    return _issue(req.subject, req.public_key(), ca_cert.subject, ca_key, days)


def _issue(subject, public_key, issuer, signer, days: int) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(signer, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def thumbprint(cert_der: bytes) -> str:
    """The certificate's SHA-256 thumbprint as RFC 8705's ``x5t#S256`` (base64url)."""
    return base64.urlsafe_b64encode(hashlib.sha256(cert_der).digest()).rstrip(b"=").decode()


def subject_dn(cert_der: bytes) -> str:
    """The subject DN as RFC 4514 writes it (what tls_client_auth_subject_dn holds)."""
    return x509.load_der_x509_certificate(cert_der).subject.rfc4514_string()


def issued_by(cert_der: bytes, ca_der: bytes) -> bool:
    """Whether the certificate is signed by the CA (its issuer, and the signature holds)."""
    try:
        ca = x509.load_der_x509_certificate(ca_der)
        x509.load_der_x509_certificate(cert_der).verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
