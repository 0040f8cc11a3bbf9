# iotauth grant: the token request of each grant, form- or JSON-encoded, with client
# authentication in the body or by HTTP Basic; and the token response read back.
# MIT licence.
import binascii
import json

from . import clock, jsonscan
from .errors import CredentialsError, TransientError
from .token import Token

_KEYS = (
    b"access_token",
    b"refresh_token",
    b"expires_in",
    b"refresh_expires_in",
    b"error",
    b"error_description",
)
_out = [None] * len(_KEYS)  # reused by every parse
_MAX_LIFE = 315360000  # ten years: longer is treated as that
_SAFE = b"-._~"
_FORM = b"application/x-www-form-urlencoded"
_JSON = b"application/json"


def _quote(s):
    # Percent-encoding for form bodies and for Basic auth (RFC 6749 2.3.1). Returns s itself
    # when nothing needs escaping: client ids, secrets and tokens usually do not.
    b = bytes(s, "utf-8")  # shares the data on MicroPython
    for c in b:
        if not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c in _SAFE):
            break
    else:
        return s
    r = bytearray()
    for c in b:
        if 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c in _SAFE:
            r.append(c)
        else:  # space too: %20 decodes the same in a form body and in Basic auth
            r.extend(b"%%%02X" % c)
    return bytes(r)


def _b(s):
    return s if type(s) is bytes else bytes(s, "utf-8")


def _field(out, k, v):
    if type(out) is dict:  # JSON encoding (ModularIoT): rare, a plain dict
        out[str(k, "utf-8")] = v
        return
    if out:
        out.append(b"&")
    out.append(k)
    out.append(b"=")
    out.append(_quote(v))


_body = []  # reused by every request: its pieces go straight into the HTTP buffer


def request(cfg, grant, secret=None):
    # -> (body pieces, content type, Authorization value or None) for one token request.
    # grant is the grant_type to send; secret the refresh token or device code it needs.
    body = _body
    del body[:]
    if cfg.encoding == "json":
        body = {}
    if grant is not None:  # None: the device authorization request (RFC 8628 3.1)
        _field(body, b"grant_type", grant)
    if grant is None:
        pass
    elif grant == "password":
        _field(body, b"username", cfg.username)
        _field(body, b"password", cfg.password)
    elif grant == "refresh_token":
        _field(body, b"refresh_token", secret)
    elif grant.endswith("device_code"):
        _field(body, b"device_code", secret)
    auth = None
    if cfg.client_auth == "basic" and cfg.client_id:
        cred = _b(_quote(cfg.client_id)) + b":" + _b(_quote(cfg.client_secret or ""))
        auth = b"Basic " + binascii.b2a_base64(cred)[:-1]
    else:
        if cfg.client_id:
            _field(body, b"client_id", cfg.client_id)
        if cfg.client_secret:
            _field(body, b"client_secret", cfg.client_secret)
    if cfg.scope:
        _field(body, b"scope", cfg.scope)
    if cfg.audience:
        _field(body, b"audience", cfg.audience)
    if type(body) is dict:
        return [json.dumps(body).encode()], _JSON, auth
    return body, _FORM, auth


def _life(v):
    # expires_in as the platforms send it: number or numeric string; None if unusable.
    if type(v) is str:
        v = v.strip()
        try:
            v = int(v)
        except ValueError:
            try:
                v = float(v)  # "3600.0"
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


def response(status, retry, view, margin, scrub):
    # -> Token from a 2xx token response; raises the contract's error otherwise.
    # retry: the Retry-After header; scrub(str) masks any secret a server echoes back.
    try:
        o = jsonscan.scan(view, _KEYS, _out)
    except (ValueError, TypeError, IndexError):
        o = None
    if 200 <= status < 300:
        if o is None:
            raise TransientError("token response is not a JSON object")
        access = o[0]
        if type(access) is not str or not access:
            raise TransientError("token response has no access_token")
        life = _life(o[2])
        if life is None:  # absent or unusable: the JWT says, or a 401 will
            from .expiry import jwt_exp

            exp = jwt_exp(access)
            now = clock.unix()
            if exp is not None and now is not None and exp > now:
                life = min(exp - now, _MAX_LIFE)
        refresh = o[1] if type(o[1]) is str and o[1] else None
        rlife = _life(o[3])
        return Token(access, refresh, life, rlife, 0 if life is None else lead(life, margin))
    err = desc = None
    if o is not None:
        if type(o[4]) is str:
            err = scrub(o[4][:64])
        if type(o[5]) is str:
            desc = scrub(o[5][:200])
    if status == 429 or status == 408 or status >= 500:
        wait = 0
        if retry:
            from .expiry import retry_after

            wait = retry_after(retry) or 0
        raise TransientError("token endpoint answered HTTP %d" % status, wait)
    if 300 <= status < 400:
        raise TransientError("token endpoint redirected (HTTP %d), not followed" % status)
    msg = "token endpoint refused (HTTP %d" % status
    if err:
        msg += " " + err
    if desc:
        msg += ": " + desc
    raise CredentialsError(msg + ")", err, desc)
