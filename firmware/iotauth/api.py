# iotauth api: Agent.request, the API call with the auth header added. It goes through the
# package's own client, so the token is sent only where the client secret would be (https
# verified against api_ca or ca; http only with insecure_http), and no redirect is followed
# with it. Loaded at the first request(). MIT licence.
import json

from micropython import const

from . import ConfigError, TransientError
from . import use
from .http import connect, late
from .token import time  # the port's time, or CircuitPython's in its shape

_HEAD_MAX = const(8192)
_NAP = const(5)  # ms between looks at a socket that has nothing to read yet
_last = None  # (url, parts) of the last URL called: its address is looked up once


class Response:
    # What sketches use of a requests response: status_code, reason, headers, content,
    # text, json(), close().
    def __init__(self, status, reason, headers, content):
        self.status_code = status
        self.reason = reason
        self.headers = headers
        self.content = content

    @property
    def text(self):
        return str(self.content, "utf-8")

    def json(self):
        return json.loads(self.content)

    def close(self):
        pass  # read whole and the socket closed already

    def __repr__(self):
        return "<Response [%d]>" % self.status_code


def request(agent, method, url, kw):
    # On 401 the token is invalidated, renewed once and the request sent once more.
    cfg = agent._cfg
    parts, ca = _where(cfg, url)
    headers = kw.pop("headers", None) or {}
    timeout = kw.pop("timeout", None) or cfg.timeout
    data = kw.pop("data", None)
    js = kw.pop("json", None)
    if kw:
        raise TypeError("request() takes no " + ", ".join(kw))
    if js is not None:
        data = json.dumps(js)
        if "Content-Type" not in headers:
            headers = dict(headers)
            headers["Content-Type"] = "application/json"
    if type(data) is str:
        data = data.encode()
    send = _send if cfg.session is None else _via_session
    r = send(agent, method, parts, ca, headers, data, timeout, url)
    if r.status_code == 401 and cfg.grant != "static":
        r.close()
        agent.invalidate()
        r = send(agent, method, parts, ca, headers, data, timeout, url)
    return r


def _via_session(agent, method, parts, ca, headers, data, timeout, url):
    # Through the session given to load(): its response as it returns it, no redirect
    # followed with the token.
    h = dict(headers)
    h.update(agent.headers())  # renews first if due: raises AuthError without a token
    return agent._cfg.session.request(
        method, url, data=data, headers=h, timeout=timeout, allow_redirects=False
    )


def _where(cfg, url):
    # -> (url parts, CA) when the token may go to url; ConfigError (no URL in it: a URL
    # may carry a key) when it may not.
    global _last
    last = _last
    if last is not None and last[0] == url:
        parts = last[1]
    else:
        try:
            parts = use("config").split(url)  # loaded for a URL not seen before
        except ValueError:
            raise ConfigError("request(): the URL must be https:// or http:// with a host")
        _last = (url, parts)
    if parts[0]:
        ca = cfg.api_ca or cfg.ca
        if ca is None and not cfg.insecure_tls and cfg.session is None:
            raise ConfigError(
                "auth.json: field 'api_ca' (or 'ca') is required to send the token to https://"
            )
        return parts, ca
    if not cfg.insecure_http:
        raise ConfigError("auth.json: field 'insecure_http' is false: no token over http://")
    return parts, None


def _send(agent, method, parts, ca, headers, data, timeout, url=None):
    auth = agent.headers()  # renews first if due: raises AuthError without a token
    head = "%s %s HTTP/1.0\r\nHost: %s\r\n" % (method, str(parts[3], "utf-8"), parts[4])
    for k in headers:
        if k not in auth:
            head += "%s: %s\r\n" % (k, headers[k])
    for k in auth:
        head += "%s: %s\r\n" % (k, auth[k])
    if data:
        head += "Content-Length: %d\r\n" % len(data)
    head += "Connection: close\r\n\r\n"
    try:
        s = connect(parts, timeout, ca, agent._cfg)  # mutual TLS: the same certificate
    except TransientError as e:  # the API is unreachable: what requests raises for it
        raise OSError(str(e))
    try:
        out = s.write if hasattr(s, "write") else s.sendall
        out(head.encode())
        if data:
            out(data)
        return _response(s, timeout)
    except TransientError as e:
        raise OSError(str(e))
    except MemoryError:
        raise OSError(12, "no heap for the API response")  # ENOMEM
    finally:
        s.close()


def _response(s, timeout):
    # The whole response: head up to _HEAD_MAX, body to Content-Length or the close.
    if hasattr(s, "readinto"):  # MicroPython: non-blocking, as http._response reads
        s.setblocking(False)
        rd = s.readinto
    else:
        rd = s.recv_into
    start = time.ticks_ms()
    b = bytearray(512)
    n = 0
    h = -1
    while h < 0:
        late(start, timeout)
        if n == len(b):
            if n >= _HEAD_MAX:
                raise OSError("API response head too large")
            b.extend(bytes(len(b)))
        got = rd(memoryview(b)[n:])
        if got is None:
            time.sleep_ms(_NAP)
            continue
        if not got:
            break
        n += got
        h = b.find(b"\r\n\r\n", 0, n)
    if h < 0 or b[:5] != b"HTTP/":
        raise OSError("malformed HTTP response from the API")
    try:
        lines = bytes(b[:h]).split(b"\r\n")
        status = lines[0].split(None, 2)
        code = int(status[1])
        reason = str(status[2], "utf-8") if len(status) > 2 else ""
    except (ValueError, IndexError):
        raise OSError("malformed HTTP response from the API")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        try:
            hdrs[str(k, "utf-8").strip()] = str(v, "utf-8").strip()
        except ValueError:  # not UTF-8: a header no sketch can use
            pass
    size = None
    for k in hdrs:
        if k.lower() == "content-length":
            try:
                size = int(hdrs[k])
            except ValueError:
                raise OSError("malformed HTTP response from the API")
    body = b[h + 4 : n]
    if size is not None:
        if size < len(body):
            body = body[:size]
        else:
            k = len(body)
            body.extend(bytes(size - k))
            mv = memoryview(body)
            while k < size:
                late(start, timeout)
                got = rd(mv[k:])
                if got is None:
                    time.sleep_ms(_NAP)
                    continue
                if not got:
                    raise OSError("truncated API response")
                k += got
    else:
        chunk = bytearray(512)
        while True:
            late(start, timeout)
            got = rd(chunk)
            if got is None:
                time.sleep_ms(_NAP)
                continue
            if not got:
                break
            body.extend(memoryview(chunk)[:got])
    for k in hdrs:
        if k.lower() == "transfer-encoding":
            from .chunked import decode, named

            if not named(hdrs[k]):
                continue
            try:
                body = body[: decode(memoryview(body), 0, len(body))]
            except ValueError:
                raise OSError("malformed chunked API response")
    return Response(code, reason, hdrs, bytes(body))
