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
import os
import re
from pathlib import Path

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


def pem(label: str, der: bytes) -> bytes:
    """DER as a PEM block: what a console pastes, and what CPython's ssl reads."""
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = "".join(body[i : i + 64] + "\n" for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}-----END {label}-----\n".encode()


def read_der(path: Path) -> bytes:
    """A certificate, CSR or key file's first block as DER (the file is DER or PEM)."""
    data = path.read_bytes()
    if data[:1] == b"\x30":
        return data
    m = re.search(rb"-----BEGIN [A-Z0-9 ]+-----(.*?)-----END ", data, re.S)
    if m is None:
        raise ValueError(f"{path.name} is neither DER nor PEM")
    return base64.b64decode(b"".join(m.group(1).split()))


def pem_pair(cert_der: bytes, key_der: bytes) -> tuple[bytes, bytes]:
    """A certificate and its key (DER: PKCS#8 or SEC 1) as CPython's load_cert_chain
    reads them. ValueError if either does not parse."""
    try:
        x509.load_der_x509_certificate(cert_der)
        key = serialization.load_der_private_key(key_der, None)
    except (ValueError, TypeError) as e:
        raise ValueError(str(e)) from None
    return pem("CERTIFICATE", cert_der), key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def pem_files(cert: Path, key: Path, tmp: Path) -> tuple[Path, Path]:
    """The device's certificate and key as PEM files in tmp, for CPython's ssl."""
    cert_pem, key_pem = pem_pair(read_der(cert), read_der(key))
    (tmp / "cert.pem").write_bytes(cert_pem)
    fd = os.open(tmp / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    return tmp / "cert.pem", tmp / "key.pem"


def matching(cert: Path, key: Path) -> bytes:
    """The certificate (DER) when key is its private key; ValueError saying what is wrong."""
    try:
        c = x509.load_der_x509_certificate(read_der(cert))
    except (OSError, ValueError):
        raise ValueError(f"{cert.name} holds no certificate (DER or PEM)") from None
    try:
        k = serialization.load_der_private_key(read_der(key), None)
    except (OSError, ValueError, TypeError):
        raise ValueError(f"{key.name} holds no unencrypted private key (DER or PEM)") from None
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if c.public_key().public_bytes(*raw) != k.public_key().public_bytes(*raw):
        raise ValueError("the certificate is not the key's: it was issued for another key")
    return c.public_bytes(serialization.Encoding.DER)


def fingerprint(cert_der: bytes) -> str:
    """The SHA-256 fingerprint as consoles show it: hex pairs."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(cert_der).digest())


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
