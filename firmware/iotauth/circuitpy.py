# iotauth circuitpy: what only a CircuitPython board has, kept out of what MicroPython boards
# load (their heap keeps the names of every module it ever loaded from .mpy): the session it
# makes for itself when given none (adafruit_requests over the board's socket pool, with an
# SSL context that trusts the configured CA), its time in the port's shape, and the state in
# microcontroller.nvm when code cannot write the drive. MIT licence.
from micropython import const

_MASK = const((1 << 29) - 1)  # supervisor.ticks_ms() wraps at 2**29
_HALF = const(1 << 28)


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
    if cfg.cert:  # mutual TLS; CircuitPython's context reads the two files itself
        ctx.load_cert_chain(cfg.cert, cfg.key)
    return adafruit_requests.Session(socketpool.SocketPool(wifi.radio), ctx)


class Board:
    # CircuitPython on a board has no time.ticks_*: its ticks are supervisor.ticks_ms(),
    # which wrap every 2**29 ms (6.2 days), and its time has localtime, not gmtime, and no
    # sleep_ms. The package calls time.ticks_ms() and the like on either (http and api
    # import this module's time).
    def __init__(self, t):
        import supervisor  # pyright: ignore[reportMissingImports]

        self.ticks_ms = supervisor.ticks_ms
        self.time = t.time
        self.gmtime = t.localtime
        self.sleep = t.sleep

    def sleep_ms(self, ms):
        self.sleep(ms / 1000)

    def ticks_diff(self, a, b):
        return ((a - b + _HALF) & _MASK) - _HALF

    def ticks_add(self, t, d):
        return (t + d) & _MASK


def where(storage):
    # The store's medium (store.new): None for files where code can write them; else
    # microcontroller.nvm; else False (RAM only).
    if not storage.getmount("/").readonly:
        return None  # boot.py remounted the drive for code
    try:
        import microcontroller  # pyright: ignore[reportMissingImports]

        nvm = microcontroller.nvm
    except (ImportError, AttributeError):
        nvm = None
    if nvm:
        return nvm
    print("iotauth: flash is read-only to code and there is no nvm: tokens kept in RAM only")
    return False


class Nvm:
    # One half of nvm as a file being written: the slot's bytes gather here and reach nvm
    # in one write at the end (each nvm write erases a flash page), behind their length.
    def __init__(self, nvm, slot):
        self.nvm = nvm
        self.size = len(nvm) // 2
        self.off = slot * self.size
        self.buf = bytearray(2)

    def write(self, b):
        self.buf.extend(b)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            n = len(self.buf) - 2
            if n + 2 > self.size:
                raise ValueError("state larger than half the nvm")
            self.buf[0] = n >> 8
            self.buf[1] = n & 0xFF
            self.nvm[self.off : self.off + n + 2] = self.buf


def read(nvm, slot):
    # A half's bytes as Nvm wrote them, or None.
    size = len(nvm) // 2
    off = slot * size
    n = nvm[off] << 8 | nvm[off + 1]
    return bytes(nvm[off + 2 : off + 2 + n]) if 0 < n <= size - 2 else None
