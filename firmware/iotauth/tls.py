# iotauth tls: the CA file read into DER certificates, and the SSLContext that verifies
# servers against them. Made once, at the first TLS request; this code then leaves the heap.
# MIT licence.
import binascii

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"


def _der(d):
    # d if it is one DER certificate (a SEQUENCE whose first element is a SEQUENCE, its
    # length the data's), cut to its length; else ValueError.
    if len(d) < 4 or d[0] != 0x30:
        raise ValueError("not DER")
    n = d[1]
    i = 2
    if n & 0x80:
        k = n & 0x7F
        if not 0 < k < 4:
            raise ValueError("not DER")
        n = 0
        for j in range(k):
            n = n << 8 | d[2 + j]
        i = 2 + k
    if i + n > len(d) or d[i] != 0x30:
        raise ValueError("not a certificate")
    return d if i + n == len(d) else d[: i + n]  # a copy only past trailing bytes


def certs(data):
    # The DER certificates of a CA file's bytes: one DER certificate, or a PEM file of one or
    # more (a bundle). ValueError when there is none or one is broken.
    if data[:1] == b"\x30":
        return [_der(data)]
    out = []
    i = data.find(_BEGIN)
    while i >= 0:
        a = i + len(_BEGIN)
        z = data.find(_END, a)
        if z < 0:
            raise ValueError("unterminated PEM")
        out.append(_der(binascii.a2b_base64(data[a:z])))
        i = data.find(_BEGIN, z)
    if not out:
        raise ValueError("no certificate")
    return out


def read(path):
    with open(path, "rb") as f:
        return certs(f.read())


def context(ca):
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is None:  # insecure_tls: the config asked for no verification
        if hasattr(ctx, "check_hostname"):
            setattr(ctx, "check_hostname", False)  # noqa: B010 (CPython only; stubs lack it)
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx.verify_mode = ssl.CERT_REQUIRED
    for der in read(ca):  # each parsed CA stays in the context; mbedtls here takes DER
        ctx.load_verify_locations(cadata=der)
    return ctx
