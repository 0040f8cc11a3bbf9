# iotauth http: the lean HTTP/1.0 client for token requests, as micropython-lib's
# requests (never a chunked body asked for), on socket + ssl with the server certificate
# verified. One reused buffer, as large as the largest message so far; bounded in size and
# time. MIT licence.
import socket
import time

from micropython import const

from . import once
from . import TransientError

_MAX = const(8192)  # largest request and response (head and body)
_STEP = const(512)  # the buffer grows in these, so tokens a few bytes longer fit as they are
buf = bytearray(_STEP)  # every request and response uses it; grows, never shrinks
_mv = memoryview(buf)
ctx = None  # (ca, SSLContext): the CA is parsed once, not at every renewal
_dns = None  # (url parts, address) of the last endpoint: renewals skip DNS


def _room(n, keep):
    # Makes buf hold at least n bytes, its first `keep` kept: the same buffer while it is
    # large enough, which after the first response it is.
    global buf, _mv
    if n > len(buf):
        if n > _MAX:
            raise TransientError("HTTP message too large: %d bytes, at most %d" % (n, _MAX))
        try:
            b = bytearray((n + _STEP - 1) // _STEP * _STEP)
        except MemoryError:
            raise TransientError("no heap for a %d-byte HTTP message" % n)
        b[:keep] = _mv[:keep]
        buf = b
        _mv = memoryview(b)


def _put(b, n, data):
    # Copies str or bytes into the buffer at n; returns the new end. Allocates nothing.
    if type(data) is str:
        data = bytes(data, "utf-8")  # MicroPython shares the str's data: no copy
    k = n + len(data)
    b[n:k] = data
    return k


def post(parts, head, body, timeout, ca):
    # One request; parts from config.split, head from grant.head, body a tuple of str or
    # bytes pieces. -> (status, head, body), memoryviews of the shared buffer. Raises
    # TransientError for every network, TLS or framing fault.
    global _dns, ctx
    tls, host, port, _, _ = parts  # unpacked, not sliced: no tuple allocated
    size = 0
    for p in body:
        size += len(p)
    s = None
    try:
        _room(len(head) + size + 16, 0)  # 16: the length's digits and CRLFs
        b = buf
        n = _put(b, 0, head)
        n = _put(b, n, b"%d\r\n\r\n" % size)  # allocates a few bytes
        for p in body:
            n = _put(b, n, p)
        d = _dns
        if d is None or d[0] is not parts:
            d = _dns = (parts, socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0])
        ai = d[1]
        s = socket.socket(ai[0], socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(ai[-1])
        except OSError:
            _dns = None  # the address may have moved: ask DNS again next time
            raise
        if tls:
            c = ctx
            if c is None or c[0] != ca:
                c = ctx = (ca, once("tls").context(ca))
            try:
                s = c[1].wrap_socket(s, server_hostname=host)
            except ValueError as e:  # MicroPython: certificate verification failed
                raise TransientError("TLS error: " + str(e).strip())
        if hasattr(s, "write"):
            s.write(_mv[:n])
        else:
            s.sendall(_mv[:n])
        return _response(s, timeout)
    except OSError as e:
        raise TransientError(once("failure").reason(e))
    except (ValueError, IndexError):
        raise TransientError("malformed HTTP response")
    finally:
        if s is not None:
            s.close()


def _response(s, timeout):
    # Reads the response into the buffer until Content-Length or the server closes. Only a
    # 2xx answer grows the buffer: of an error's body, what fits is enough.
    rd = s.readinto if hasattr(s, "readinto") else s.recv_into
    start = time.ticks_ms()
    b = buf
    mv = _mv
    n = 0
    h = end = -1
    grow = True
    while end < 0 or n < end:
        if n == len(b):  # full, the end unknown: head not over, or a body read to close
            if not grow:
                break
            _room(n + _STEP, n)
            b = buf
            mv = _mv
        if time.ticks_diff(time.ticks_ms(), start) > timeout * 2000:
            raise TransientError("response too slow")
        got = rd(mv[n:])
        if not got:
            break
        n += got
        if h < 0:
            h = b.find(b"\r\n\r\n", 0, n)
            if h >= 0:
                h += 4
                grow = b[9] == 0x32  # status 2xx
                i = b.find(b"\r\nContent-Length:", 0, h)
                if i < 0:
                    i = b.find(b"\r\ncontent-length:", 0, h)
                if i >= 0:
                    end = h + _num(b, i + 17)
                    if grow:
                        _room(end, n)
                        b = buf
                        mv = _mv
                    elif end > len(b):
                        end = len(b)
                # else: the body ends at close
    if h < 0 or b[:5] != b"HTTP/":
        raise ValueError("not HTTP")
    if end < 0:
        end = n
    elif n < end:
        raise ValueError("truncated body")
    if b.find(b"chunked", 0, h) > 0:  # a server that chunks even for HTTP/1.0
        end = once("chunked").decode(mv, h, end)
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
