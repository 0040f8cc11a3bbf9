# iotauth tls: the SSLContext that verifies token servers against the config's CA.
# Made once, at the first TLS request; this code then leaves the heap. MIT licence.
import binascii
import ssl


def context(ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is None:  # insecure_tls: the config asked for no verification
        if hasattr(ctx, "check_hostname"):
            setattr(ctx, "check_hostname", False)  # noqa: B010 (CPython only; stubs lack it)
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx.verify_mode = ssl.CERT_REQUIRED
    with open(ca, "rb") as f:
        data = f.read()  # the parsed CA stays in the context
    if data.startswith(b"-----"):
        # PEM: mbedtls here takes DER only, so decode the first certificate's base64.
        a = data.find(b"\n") + 1
        data = binascii.a2b_base64(data[a : data.find(b"-----", a)])
    ctx.load_verify_locations(cadata=data)
    return ctx
