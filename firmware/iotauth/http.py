# iotauth http: the lean HTTP/1.1 client for token requests, on socket + ssl with the
# server certificate verified. One reused buffer; bounded in size and time. MIT licence.
import binascii
import socket
import ssl
import time

from micropython import const

from .errors import TransientError

_SIZE = const(4096)  # largest response (head and body) accepted
_SSLError = getattr(ssl, "SSLError", None)  # CPython only; MicroPython raises OSError
_buf = None


def buffer():
    global _buf
    if _buf is None:
        _buf = bytearray(_SIZE)  # allocates once: every response is read into it
    return _buf


_ctx = None  # (ca, SSLContext): the CA is parsed once, not at every renewal


def _context(ca):
    global _ctx
    if _ctx is not None and _ctx[0] == ca:
        return _ctx[1]
    _ctx = None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is None:  # insecure_tls: the config asked for no verification
        if hasattr(ctx, "check_hostname"):
            setattr(ctx, "check_hostname", False)  # noqa: B010 (CPython only; stubs lack it)
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.verify_mode = ssl.CERT_REQUIRED
        with open(ca, "rb") as f:
            data = f.read()  # allocates, once: the parsed CA stays in the kept context
        if data.startswith(b"-----"):
            # PEM: mbedtls here takes DER only, so decode the first certificate's base64.
            a = data.find(b"\n") + 1
            data = binascii.a2b_base64(data[a : data.find(b"-----", a)])
        ctx.load_verify_locations(cadata=data)
    _ctx = (ca, ctx)
    return ctx


def _hname(b, i, j, name):
    # Whether the header line b[i:j] starts with name (lower case) and a colon.
    n = len(name)
    if j - i <= n:
        return False
    for k in range(n):
        if b[i + k] | 0x20 != name[k]:
            return False
    return b[i + n] == 0x3A


def _num(b, i, j):
    # The decimal number in b[i:j] (spaces around allowed); ValueError if none.
    while i < j and b[i] == 0x20:
        i += 1
    v = -1
    while i < j and 0x30 <= b[i] <= 0x39:
        v = (0 if v < 0 else v * 10) + b[i] - 0x30
        i += 1
    while i < j and b[i] == 0x20:
        i += 1
    if v < 0 or i != j:
        raise ValueError("number")
    return v


def _dechunk(mv, s, e):
    # Decodes a chunked body in mv[s:e] in place; returns its new end.
    w = s
    r = s
    while True:
        k = r
        while k < e and mv[k] != 0x0D:
            k += 1
        if k + 1 >= e:
            raise ValueError("truncated chunk")
        size = int(str(mv[r:k], "utf-8").split(";")[0], 16)
        r = k + 2
        if size == 0:
            return w
        if r + size + 2 > e:
            raise ValueError("truncated chunk")
        mv[w : w + size] = bytes(mv[r : r + size])  # allocates: chunked bodies are rare
        w += size
        r += size + 2


def _put(buf, n, data):
    # Copies data (str or bytes) into the buffer at n; returns the new end. Slice
    # assignment into a bytearray allocates nothing.
    if type(data) is str:
        data = bytes(data, "utf-8")  # MicroPython shares the str's data: no copy
    k = n + len(data)
    if k > _SIZE:
        raise ValueError("request too large")
    buf[n:k] = data
    return k


def _putnum(buf, n, v):
    # Writes the decimal digits of v >= 0 at n without making a string.
    d = 1
    while d * 10 <= v:
        d *= 10
    while d:
        buf[n] = 0x30 + v // d % 10
        n += 1
        d //= 10
    return n


def _request(buf, tls, host, port, path, body, ctype, auth):
    # Composes the whole request in the buffer; returns its length. body: list of pieces.
    n = _put(buf, 0, b"POST ")
    n = _put(buf, n, path)
    n = _put(buf, n, b" HTTP/1.1\r\nHost: ")
    n = _put(buf, n, host)
    if port != (443 if tls else 80):
        n = _put(buf, n, b":")
        n = _putnum(buf, n, port)
    if auth:
        n = _put(buf, n, b"\r\nAuthorization: ")
        n = _put(buf, n, auth)
    n = _put(buf, n, b"\r\nContent-Type: ")
    n = _put(buf, n, ctype)
    size = 0
    for p in body:
        size += len(p)
    n = _put(buf, n, b"\r\nContent-Length: ")
    n = _putnum(buf, n, size)
    n = _put(buf, n, b"\r\nAccept: application/json\r\nConnection: close\r\n\r\n")
    for p in body:
        n = _put(buf, n, p)
    return n


def _response(s, mv, timeout):
    # Reads the response into the buffer; returns (status, retry_after, memoryview of body).
    buf = _buf
    rd = s.readinto if hasattr(s, "readinto") else s.recv_into
    start = time.ticks_ms()
    n = 0
    head = -1
    clen = -1
    chunked = False
    retry = None
    status = 0
    while True:
        if n == _SIZE:
            raise TransientError("response too large")
        if time.ticks_diff(time.ticks_ms(), start) > timeout * 2000:
            raise TransientError("response too slow")
        got = rd(mv[n:])
        if not got:
            break
        n += got
        if head < 0:
            h = buf.find(b"\r\n\r\n", 0, n)
            if h < 0:
                continue
            head = h + 4
            if n < 12 or buf[:5] != b"HTTP/":
                raise ValueError("not HTTP")
            status = _num(buf, 9, 12)
            i = buf.find(b"\r\n", 0, h) + 2
            while i < head:
                j = buf.find(b"\r\n", i, head)
                if _hname(buf, i, j, b"content-length"):
                    clen = _num(buf, i + 15, j)
                elif _hname(buf, i, j, b"transfer-encoding"):
                    chunked = buf.find(b"chunked", i, j) > 0
                elif _hname(buf, i, j, b"retry-after"):
                    retry = str(mv[i + 12 : j], "utf-8")  # rare: only with 429/503
                i = j + 2
            if clen > _SIZE - head:
                raise TransientError("response too large")
        if clen >= 0 and not chunked and n - head >= clen:
            break
        if chunked and n - 5 >= head and buf.find(b"0\r\n\r\n", n - 5, n) >= 0:
            if n - 5 == head or buf[n - 7 : n - 5] == b"\r\n":
                break
    if head < 0:
        raise ValueError("truncated head")
    end = n
    if chunked:
        end = _dechunk(mv, head, n)
    elif clen >= 0:
        if n - head < clen:
            raise ValueError("truncated body")
        end = head + clen
    return status, retry, mv[head:end]


_dns = None  # (host, port, addrinfo) of the last token endpoint: renewals skip DNS


def _forget():
    global _dns
    _dns = None


def _resolve(host, port):
    global _dns
    d = _dns
    if d is None or d[0] != host or d[1] != port:
        d = _dns = (host, port, socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0])
    return d[2]


def post(tls, host, port, path, body, ctype, auth, timeout, ca):
    # One token request. body: a list of str/bytes pieces. Raises TransientError for every
    # network, TLS or framing fault; the body returned lives in the shared buffer.
    s = None
    mv = memoryview(buffer())
    try:
        n = _request(_buf, tls, host, port, path, body, ctype, auth)
        ai = _resolve(host, port)
        s = socket.socket(ai[0], socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(ai[-1])
        except OSError:
            _forget()  # the address may have moved: ask DNS again next time
            raise
        if tls:
            try:
                s = _context(ca).wrap_socket(s, server_hostname=host)
            except ValueError as e:  # MicroPython: certificate verification failed
                raise TransientError("TLS error: " + str(e).strip())
        if hasattr(s, "write"):
            s.write(mv[:n])
        else:
            s.sendall(mv[:n])
        return _response(s, mv, timeout)
    except OSError as e:
        raise TransientError(_reason(e))
    except (ValueError, IndexError):
        raise TransientError("malformed HTTP response")
    finally:
        if s is not None:
            s.close()


def _reason(e):
    # OSError -> words. mbedtls errors are negative; timeouts differ per port.
    a = e.args
    code = a[0] if a and type(a[0]) is int else None
    if _SSLError is not None and isinstance(e, _SSLError):
        return "TLS error"
    if code is None:
        return "timed out" if "timed out" in str(e) else "network error (%s)" % type(e).__name__
    if code < 0:
        return "TLS error %d" % code
    if code in (11, 110, 116):  # EAGAIN, ETIMEDOUT on unix, ETIMEDOUT on lwIP
        return "timed out"
    return "network error (errno %d)" % code
