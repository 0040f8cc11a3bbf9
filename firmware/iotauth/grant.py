# iotauth grant: the token request of each grant, form- or JSON-encoded, with client
# authentication in the body or by HTTP Basic; and the token response read back.
# MIT licence.
import json

from . import clock, jsonscan, once
from .errors import TransientError
from .token import Token

_MAX_LIFE = 315360000  # ten years: longer is treated as that
_SAFE = b"-._~"


def _quote(s):
    # Percent-encoding for form bodies and for Basic auth (RFC 6749 2.3.1). Returns
    # bytes; the same data when nothing needs escaping (ids, secrets and tokens seldom do).
    b = bytes(s, "utf-8")  # shares the data on MicroPython
    r = None
    for i in range(len(b)):
        c = b[i]
        if 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c in _SAFE:
            if r is not None:
                r.append(c)
        else:  # space too: %20 decodes the same in a form body and in Basic auth
            if r is None:
                r = bytearray(b[:i])
            r.extend(b"%%%02X" % c)
    return b if r is None else bytes(r)


_body = []  # reused by every request: its pieces go straight into the HTTP buffer


def _field(out, k, v):
    if type(out) is dict:  # JSON encoding (ModularIoT): rare, a plain dict
        out[k] = v
        return
    if out:
        out.append(b"&")
    out.append(k)
    out.append(b"=")
    out.append(_quote(v))


def request(cfg, grant, secret=None):
    # -> (body pieces, content type, Authorization value or None) for one token request.
    # grant is the grant_type to send (None: the device authorization request, RFC 8628
    # 3.1); secret the refresh token or device code it needs.
    body = _body
    del body[:]
    if cfg.encoding == "json":
        body = {}
    if grant is not None:
        _field(body, "grant_type", grant)
        if grant == "password":
            _field(body, "username", cfg.username)
            _field(body, "password", cfg.password)
        elif grant == "refresh_token":
            _field(body, "refresh_token", secret)
        elif grant.endswith("device_code"):
            _field(body, "device_code", secret)
    auth = None
    if cfg.client_auth == "basic" and cfg.client_id:
        import binascii

        auth = _quote(cfg.client_id) + b":" + _quote(cfg.client_secret or "")
        auth = b"Basic " + binascii.b2a_base64(auth)[:-1]
    else:
        if cfg.client_id:
            _field(body, "client_id", cfg.client_id)
        if cfg.client_secret:
            _field(body, "client_secret", cfg.client_secret)
    if cfg.scope:
        _field(body, "scope", cfg.scope)
    if cfg.audience:
        _field(body, "audience", cfg.audience)
    if type(body) is dict:
        return [json.dumps(body)], b"application/json", auth
    return body, b"application/x-www-form-urlencoded", auth


def parse(body):
    # The JSON object in body (a memoryview of the buffer), or None. Allocates: each field.
    try:
        try:
            o = json.loads(body)
        except TypeError:  # CPython (the host shim) reads bytes, not memoryviews
            o = json.loads(bytes(body))
    except (ValueError, MemoryError, RuntimeError):  # a hostile nesting: memory or depth
        return None
    return o if type(o) is dict else None


def life(v):
    # expires_in as the platforms send it: number or numeric string; None if unusable.
    if type(v) is str:
        try:
            v = float(v)  # "3600", "3600.0"
        except ValueError:
            return None
    if type(v) is float:
        if not v > 0:  # NaN too
            return None
        v = _MAX_LIFE if v >= _MAX_LIFE else int(v)
    if type(v) is not int or v <= 0:
        return None
    return v if v < _MAX_LIFE else _MAX_LIFE


def lead(life, margin):
    # Renew margin seconds ahead (at most half the lifetime), plus a random spread so a
    # fleet that booted together does not renew together.
    return min(margin, life // 2) + clock.rand(min(life // 10, 900) + 1)


_KEYS = (b"access_token", b"refresh_token", b"expires_in", b"refresh_expires_in")
_out = [None] * len(_KEYS)  # reused by every token response


def token(body, margin):
    # -> Token from a 2xx token response body. Picks its fields out of the buffer: only the
    # tokens become strings.
    try:
        access, refresh, n, rn = jsonscan.scan(body, _KEYS, _out)
    except (ValueError, TypeError, IndexError):
        raise TransientError("token response is not a JSON object")
    if type(access) is not str or not access:
        raise TransientError("token response has no access_token")
    n = life(n)
    if n is None:  # absent or unusable: the JWT says, or a 401 will
        n = once("expiry").life(access)
    return Token(
        access,
        refresh if type(refresh) is str and refresh else None,
        n,
        life(rn),
        0 if n is None else lead(n, margin),
    )
