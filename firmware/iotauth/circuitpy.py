# iotauth circuitpy: on a CircuitPython board given no session, the one it makes for itself:
# adafruit_requests over the board's socket pool, with an SSL context that trusts the
# configured CA. Loaded once at load(). MIT licence.


def session(cfg):
    # -> an adafruit_requests Session, or None off a CircuitPython board with Wi-Fi.
    try:
        import adafruit_requests  # pyright: ignore[reportMissingImports]
        import socketpool  # pyright: ignore[reportMissingImports]
        import wifi  # pyright: ignore[reportMissingImports]
    except ImportError:
        return None
    import ssl

    ctx = ssl.create_default_context()  # pyright: ignore[reportAttributeAccessIssue] (CircuitPython)
    if cfg.ca:
        with open(cfg.ca, "rb") as f:
            data = f.read()
        # CircuitPython's context takes a PEM bundle as str, a DER certificate as bytes.
        ctx.load_verify_locations(cadata=str(data, "utf-8") if data[:1] == b"-" else data)
    elif cfg.insecure_tls:  # the config asked for no verification
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return adafruit_requests.Session(socketpool.SocketPool(wifi.radio), ctx)
