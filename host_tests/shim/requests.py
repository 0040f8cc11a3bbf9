"""CPython stand-in for MicroPython's ``requests`` (micropython-lib), on ``http.client``.

Same call shape and response attributes as the board's module: ``request(method, url,
data=None, json=None, headers=None, timeout=None, ...)`` returning an object with
``status_code``, ``reason``, ``headers``, ``content``, ``text``, ``json()`` and ``close()``.
Like micropython-lib it does not verify TLS certificates and follows redirects (a 307 with
its body and headers).
"""

import http.client
import json as _json
import ssl
from urllib.parse import urlsplit


class Response:
    def __init__(self, status, reason, headers, content):
        self.status_code = status
        self.reason = reason.encode()
        self.headers = headers
        self.content = content
        self.encoding = "utf-8"

    @property
    def text(self):
        return self.content.decode(self.encoding)

    def json(self):
        return _json.loads(self.content)

    def close(self):
        pass


def request(
    method,
    url,
    data=None,
    json=None,
    headers=None,
    stream=None,
    auth=None,
    timeout=None,
    parse_headers=True,
):
    u = urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout, context=ctx)
    elif u.scheme == "http":
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    else:
        raise ValueError("Unsupported protocol: " + u.scheme)
    headers = dict(headers or {})
    if json is not None:
        data = _json.dumps(json)
        headers.setdefault("Content-Type", "application/json")
    if isinstance(data, str):
        data = data.encode()
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        redirect = None
        resp_d = {}
        for k, v in r.getheaders():
            # As micropython-lib: a Location on a redirect is followed; each header line
            # goes to the parse_headers hook, which may raise.
            if k == "Location" and r.status in (301, 302, 303, 307, 308):
                redirect = v
            if callable(parse_headers):
                parse_headers(f"{k}: {v}\r\n".encode("latin-1"), resp_d)
            elif parse_headers:
                resp_d[k] = v
        if redirect:
            headers.pop("Host", None)
            if r.status in (301, 302, 303):
                return request("GET", redirect, None, None, headers, stream)
            return request(method, redirect, data, None, headers, stream)
        content = r.read()
        return Response(r.status, r.reason, resp_d, content)
    except http.client.HTTPException as e:  # the board's module raises OSError
        raise OSError(str(e)) from e
    finally:
        conn.close()


def head(url, **kw):
    return request("HEAD", url, **kw)


def get(url, **kw):
    return request("GET", url, **kw)


def post(url, **kw):
    return request("POST", url, **kw)


def put(url, **kw):
    return request("PUT", url, **kw)


def patch(url, **kw):
    return request("PATCH", url, **kw)


def delete(url, **kw):
    return request("DELETE", url, **kw)
