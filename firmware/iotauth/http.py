# iotauth http: the built-in transport, a lean HTTP/1.0 client for token requests as
# micropython-lib's requests (never a chunked body asked for), on socket + ssl with the
# server certificate verified against the configured CA. One buffer per request, made as
# large as the endpoint's largest message once the connection is up, and let go with the
# answer; bounded in size and time. Keeps no state of its own (the endpoint's parts do), so
# it can leave the heap between renewals; what only some requests need (TLS, chunked, the
# words for an OSError) loads only then. MIT licence.
#
# A transport is a module with post(cfg, parts, head, body) -> (status, head, body): this
# one, and viarequests beside it (the board's requests module, or a session given to load()).
import gc
import socket

from micropython import const

from . import use
from . import TransientError
from .token import time  # the port's time, or CircuitPython's in its shape

_MAX = const(8192)  # largest request and response (head and body)
_ERR_MAX = const(2048)  # an error answer is read this far: its error and error_description
_STEP = const(512)  # the buffer grows in these, so tokens a few bytes longer fit as they are
_NAP = const(5)  # ms between looks at a socket that has nothing to read yet


def _room(b, n, keep):
    # A buffer of at least n bytes holding b's first `keep`: b itself while it is large
    # enough, which, made as large as the endpoint's largest message, it is.
    if b is not None and n <= len(b):
        return b
    if n > _MAX:
        raise TransientError("HTTP message too large: %d bytes, at most %d" % (n, _MAX))
    n = (n + _STEP - 1) // _STEP * _STEP
    try:
        new = bytearray(n)
    except MemoryError:
        raise TransientError("no heap for a %d-byte HTTP message" % n)
    if b is not None:  # None: a request's first buffer, nothing to keep
        new[:keep] = memoryview(b)[:keep]
    return new


def _put(b, n, data):
    # Copies str or bytes into the buffer at n; returns the new end. Allocates nothing.
    if type(data) is str:
        data = bytes(data, "utf-8")  # MicroPython shares the str's data: no copy
    k = n + len(data)
    b[n:k] = data
    return k


def resolve(parts):
    # The endpoint's address, found once: renewals skip DNS (and asyncio has no resolver).
    ai = parts[5]
    if ai is None:
        try:
            ai = socket.getaddrinfo(parts[1], parts[2], 0, socket.SOCK_STREAM)[0]
        except OSError as e:  # lwIP -2 on rp2, -202 on ESP32; gaierror on CPython
            raise TransientError("cannot resolve %s (DNS error %s)" % (parts[1], e.args[0]))
        parts[5] = ai
    return ai


def connect(parts, timeout, ca, cfg):
    # A connected socket to the URL's host, TLS verified against ca when https (presenting
    # cfg's client certificate when it has one). Raises TransientError naming the step that
    # failed: DNS, connection or TLS.
    host = parts[1]
    ai = resolve(parts)
    s = socket.socket(ai[0], socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        try:
            s.connect(ai[-1])
        except OSError:
            parts[5] = None  # the address may have moved: ask DNS again next time
            raise
        if parts[0]:
            try:
                c = use("tls").context(ca, cfg)
                s = c.wrap_socket(s, server_hostname=host)
            except ValueError as e:  # MicroPython: certificate verification failed
                # mbedtls short of heap while verifying says the certificate is badly
                # signed: the free heap tells a user which it was.
                m = str(e).strip()
                if hasattr(gc, "mem_free"):  # not on CPython (the host shim)
                    m = "%s (heap free: %d bytes)" % (m, gc.mem_free())
                raise TransientError("TLS error: " + m)
            except OSError as e:  # the handshake cut off: timed out, or the peer ended it
                raise TransientError(use("failure").handshake(e, cfg))
    except OSError as e:
        s.close()
        raise TransientError(use("failure").reason(e))
    except BaseException:
        s.close()
        raise
    return s


def message(parts, head, body):
    # -> (buffer, length) of the request: head, its Content-Length, the body's pieces. The
    # buffer is made as large as the endpoint's largest message: the answer is read into it.
    size = 0
    for p in body:
        size += len(p)
    b = _room(None, max(len(head) + size + 16, parts[6]), 0)  # 16: length and CRLFs
    n = _put(b, 0, head)
    n = _put(b, n, b"%d\r\n\r\n" % size)  # allocates a few bytes
    for p in body:
        n = _put(b, n, p)
    return b, n


def post(cfg, parts, head, body):
    # One request; parts from config.split(), head from grant.head(), body a tuple of str or
    # bytes pieces. -> (status, head, body), memoryviews of this request's buffer. Raises
    # TransientError for every network, TLS or framing fault.
    # The connection first: a TLS handshake's large blocks are taken before the buffer's.
    timeout = cfg.timeout
    s = connect(parts, timeout, cfg.ca, cfg)
    try:
        b, n = message(parts, head, body)
        if hasattr(s, "write"):
            s.write(memoryview(b)[:n])
        else:
            s.sendall(memoryview(b)[:n])
        return _response(s, timeout, b, parts)
    except OSError as e:
        raise TransientError(use("failure").reason(e))
    except (ValueError, IndexError):
        raise TransientError("malformed HTTP response")
    finally:
        s.close()


def late(start, timeout):
    # The bound on a whole answer, however it trickles in: twice timeout.
    if time.ticks_diff(time.ticks_ms(), start) > timeout * 2000:
        raise TransientError("timed out: no whole answer in %d s" % (timeout * 2))


def _response(s, timeout, b, parts):
    # Reads the response into buffer b until Content-Length or the server closes.
    if hasattr(s, "readinto"):
        # A blocking MicroPython socket's readinto waits until the whole slice is full or
        # the peer closes: non-blocking, it returns what has come (None: nothing yet).
        s.setblocking(False)
        rd = s.readinto
    else:
        rd = s.recv_into  # CPython (the host shim): what has come, within the timeout
    start = time.ticks_ms()
    r = reading(b)
    while True:
        late(start, timeout)
        w = window(r)
        if w is None:
            break
        got = rd(w)
        if got is None:  # nothing has come yet
            time.sleep_ms(_NAP)
        elif not took(r, got):
            break
    return answer(r, parts)


# A response being read (the async transport reads one the same way): [buffer, bytes in it,
# end of the head (-1: not yet), end of the body (-1: at close), most to read, error answer,
# a memoryview of the buffer].
# A 2xx answer grows the buffer to fit (up to _MAX); an error answer is read up to _ERR_MAX
# (or what the buffer holds), enough for its error fields.


def reading(b):
    return [b, 0, -1, -1, _MAX, False, memoryview(b)]


def window(r):
    # The slice of the buffer the next read fills, or None when the answer is whole.
    b, n, end = r[0], r[1], r[3]
    if end >= 0 and n >= end:
        return None
    if n == len(b):  # full, the end unknown: head not over, or a body read to close
        if r[5] and n >= r[4]:
            return None  # an error's body read to close: what fits is enough
        _grow(r, n + _STEP)
    return r[6][n:] if end < 0 else r[6][n:end]


def _grow(r, size):
    b = _room(r[0], size, r[1])
    if b is not r[0]:
        r[0] = b
        r[6] = memoryview(b)


def took(r, got):
    # Counts `got` bytes read; False at the close (got 0).
    if not got:
        return False
    b = r[0]
    n = r[1] = r[1] + got
    if r[2] < 0:
        h = b.find(b"\r\n\r\n", 0, n)
        if h >= 0:
            r[2] = h = h + 4
            i = 0
            while i < h:  # the head in lower case, in place: names match in any case
                if 0x41 <= b[i] <= 0x5A:
                    b[i] += 0x20
                i += 1
            r[5] = err = b[9] != 0x32  # not 2xx
            if err:
                r[4] = max(len(b), _ERR_MAX)
            i = b.find(b"\r\ncontent-length:", 0, h)
            if i >= 0:
                end = h + _num(b, i + 17)
                if err and end > r[4]:
                    end = r[4]  # an error's body: what fits is enough
                r[3] = end
                _grow(r, end)
            # else: the body ends at close
    return True


def answer(r, parts):
    # -> (status, head, body) of a response read whole; ValueError if it is not one.
    b, n, h, end, mv = r[0], r[1], r[2], r[3], r[6]
    if len(b) > parts[6]:
        parts[6] = len(b)  # the next request's buffer is made this large at once
    if h < 0 or b[:5] != b"http/":
        raise ValueError("not HTTP")
    if end < 0:
        end = n
    elif n < end:
        raise ValueError("truncated body")
    i = b.find(b"\r\ntransfer-encoding:", 0, h)
    if i >= 0:  # a server that chunks even for HTTP/1.0
        c = use("chunked")
        if c.named(c.value(b, i + 20)):
            end = c.decode(mv, h, end)
    return _num(b, 9), mv[:h], mv[h:end]


def _num(b, i):
    # The decimal number at b[i] (spaces before it skipped), read in place.
    while b[i] == 0x20:
        i += 1
    v = -1
    while 0x30 <= b[i] <= 0x39:
        v = (0 if v < 0 else v * 10) + b[i] - 0x30
        i += 1
    if v < 0 or b[i] not in b" \r":
        raise ValueError("number")
    return v
