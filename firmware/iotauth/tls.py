# iotauth tls: certificate and key files read into DER, and the SSLContext that verifies
# servers against the CA (and, for mutual TLS, presents the device's certificate), made for
# each connection: kept between renewals, the parsed CA (2.8 KB of heap) would sit in the
# heap the app has at rest. MIT licence.
import binascii

_BEGIN = b"-----BEGIN "
_END = b"-----END "


def certs(path):
    # The DER blocks of a certificate or key file: the file itself when DER, else each PEM
    # block (a CA bundle holds several). config.py checks what each is at load().
    with open(path, "rb") as f:
        data = f.read()
    if data[:1] == b"\x30":
        return [data]
    out = []
    i = data.find(_BEGIN)
    while i >= 0:
        a = data.find(b"-----", i + len(_BEGIN)) + 5  # past the label: "CERTIFICATE-----"
        z = data.find(_END, a)
        if a < 5 or z < 0:
            raise ValueError("unterminated PEM")
        out.append(binascii.a2b_base64(data[a:z]))
        i = data.find(_BEGIN, z + len(_END))
    return out


def key(path):
    # The private key in a key file (DER, PKCS#8 or SEC 1, or PEM): the first block that is
    # a SEQUENCE starting with its version INTEGER (`openssl ecparam -genkey` writes the
    # curve's parameters before it; an encrypted key starts with a SEQUENCE). ValueError
    # if none is.
    for d in certs(path):
        if len(d) > 4 and d[0] == 0x30 and d[2 if d[1] < 0x80 else 2 + (d[1] & 0x7F)] == 2:
            return d
    raise ValueError("no private key")


def context(ca, cfg=None):
    # The SSLContext that verifies servers against the CA file ca (None: insecure_tls) and
    # presents cfg's cert and key when it has them (RFC 8705 mutual TLS). Imported here:
    # reading a CA file (config's check at boot) needs no TLS.
    try:
        # MicroPython >= 1.23: the built-in that its ssl module wraps in Python. The wrapper,
        # once imported, stays in the heap for good (0.6 KB); this needs nothing of it.
        import tls as ssl  # pyright: ignore[reportMissingImports]

        pos = True  # its load_verify_locations takes the data as its one argument
    except ImportError:  # MicroPython 1.22, CircuitPython's unix port
        import ssl

        pos = False
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cfg is not None and cfg.cert:  # as DER: mbedtls may be built without PEM
        ctx.load_cert_chain(certs(cfg.cert)[0], key(cfg.key))  # the leaf, the key
    if ca is None:  # insecure_tls: the config asked for no verification
        if hasattr(ctx, "check_hostname"):
            setattr(ctx, "check_hostname", False)  # noqa: B010 (CPython only; stubs lack it)
        ctx.verify_mode = ssl.CERT_NONE  # pyright: ignore[reportAttributeAccessIssue]
        return ctx
    ctx.verify_mode = ssl.CERT_REQUIRED  # pyright: ignore[reportAttributeAccessIssue]
    for der in certs(ca):  # each parsed CA stays in the context; mbedtls here takes DER
        if pos:
            ctx.load_verify_locations(der)
        else:
            ctx.load_verify_locations(cadata=der)
    return ctx
