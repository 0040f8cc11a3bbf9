# iotauth jsonscan: holds a JSON object to JSON's syntax, which MicroPython's json does not
# (it takes a trailing or a missing comma that the host's refuses, so an auth.json that
# loads on a board would fail `provision check`); and a JWT's exp claim. MIT licence.
import json

from micropython import const

_QUOTE = const(0x22)
_BSLASH = const(0x5C)
_COLON = const(0x3A)
_COMMA = const(0x2C)
_LBRACE = const(0x7B)
_RBRACE = const(0x7D)
_LBRACKET = const(0x5B)
_RBRACKET = const(0x5D)


def _ws(b, i, n):
    while i < n and b[i] in b" \t\r\n":
        i += 1
    return i


def _str_end(b, i, n):
    # b[i] is the opening quote; returns the index of the closing one.
    i += 1
    while i < n:
        c = b[i]
        if c == _QUOTE:
            return i
        if c == _BSLASH:
            i += 1
        i += 1
    raise ValueError("unterminated string")


def _skip(b, i, n):
    # Skips one value of any kind starting at b[i]; returns the index after it.
    c = b[i]
    if c == _QUOTE:
        return _str_end(b, i, n) + 1
    if c == _LBRACE or c == _LBRACKET:
        depth = 0
        while i < n:
            c = b[i]
            if c == _QUOTE:
                i = _str_end(b, i, n)
            elif c == _LBRACE or c == _LBRACKET:
                depth += 1
            elif c == _RBRACE or c == _RBRACKET:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise ValueError("unterminated value")
    while i < n and b[i] not in b",}] \t\r\n":
        i += 1
    return i


def check(b):
    # Raises ValueError unless bytes-like b is one JSON object, its members separated as
    # JSON says. Values are skipped over, not read: json.loads reads them.
    n = len(b)
    i = _ws(b, 0, n)
    if i >= n or b[i] != _LBRACE:
        raise ValueError("not an object")
    i = _ws(b, i + 1, n)
    if i < n and b[i] == _RBRACE:
        i += 1
    else:
        while True:
            if i >= n or b[i] != _QUOTE:
                raise ValueError("bad key")
            i = _ws(b, _str_end(b, i, n) + 1, n)
            if i >= n or b[i] != _COLON:
                raise ValueError("bad object")
            i = _ws(b, i + 1, n)
            if i >= n:
                raise ValueError("truncated")
            i = _ws(b, _skip(b, i, n), n)
            if i >= n:
                raise ValueError("truncated")
            if b[i] == _RBRACE:
                i += 1
                break
            if b[i] != _COMMA:
                raise ValueError("bad object")
            i = _ws(b, i + 1, n)
    if _ws(b, i, n) < n:
        raise ValueError("more after the object")


def jwt_exp(tok):
    # The exp claim of a JWT access token (Unix seconds), or None: what a token without
    # expires_in, or one persisted before NTP, says of its own end.
    import binascii

    p = tok.split(".")
    if len(p) != 3:
        return None
    s = p[1].replace("-", "+").replace("_", "/")
    s += "=" * (-len(s) % 4)
    try:
        d = json.loads(binascii.a2b_base64(s))
    except ValueError:  # not base64 or not JSON: binascii.Error and UnicodeError are ones
        return None
    exp = d.get("exp") if type(d) is dict else None
    return exp if type(exp) is int else None
