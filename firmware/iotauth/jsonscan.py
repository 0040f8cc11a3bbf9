# iotauth jsonscan: picks the wanted fields of a flat JSON object straight out of a byte
# buffer, without building the whole object; and a JWT's exp claim. MIT licence.
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


_esc = False  # whether the string _str_end last passed holds escapes


def _str_end(b, i, n):
    # b[i] is the opening quote; returns the index of the closing one.
    global _esc
    i += 1
    _esc = False
    while i < n:
        c = b[i]
        if c == _QUOTE:
            return i
        if c == _BSLASH:
            _esc = True
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


def _key(b, i, j, keys):
    # Index in keys of the key b[i:j], or -1; compares in place.
    n = j - i
    for k in range(len(keys)):
        key = keys[k]
        if len(key) == n:
            m = 0
            while m < n and b[i + m] == key[m]:
                m += 1
            if m == n:
                return k
    return -1


def _value(b, i, j):
    # The scalar b[i:j] as str, int or float; None for null, bool for true/false.
    c = b[i]
    if c == _QUOTE:
        return str(b[i + 1 : j - 1], "utf-8")
    v = 0
    k = i
    while k < j and 0x30 <= b[k] <= 0x39:
        v = v * 10 + b[k] - 0x30
        k += 1
    if k == j and k > i:
        return v
    return json.loads(bytes(b[i:j]))  # rare: negative, float, literal


def scan(b, keys, out):
    # b: bytes-like JSON object; keys: tuple of bytes; out: list of len(keys), filled
    # with the values found (None where absent). Raises ValueError when b is no object.
    n = len(b)
    for k in range(len(out)):
        out[k] = None
    i = _ws(b, 0, n)
    if i >= n or b[i] != _LBRACE:
        raise ValueError("not an object")
    i = _ws(b, i + 1, n)
    if i < n and b[i] == _RBRACE:
        return out
    while True:
        if i >= n or b[i] != _QUOTE:
            raise ValueError("bad key")
        j = _str_end(b, i, n)
        k = -1 if _esc else _key(b, i + 1, j, keys)
        i = _ws(b, j + 1, n)
        if i >= n or b[i] != _COLON:
            raise ValueError("bad object")
        i = _ws(b, i + 1, n)
        if i >= n:
            raise ValueError("truncated")
        j = _skip(b, i, n)
        if k >= 0:
            if b[i] == _QUOTE and _esc:
                out[k] = json.loads(bytes(b[i:j]))  # rare: escaped string
            elif b[i] == _LBRACE or b[i] == _LBRACKET:
                out[k] = None
            else:
                out[k] = _value(b, i, j)
        i = _ws(b, j, n)
        if i >= n:
            raise ValueError("truncated")
        if b[i] == _RBRACE:
            return out
        if b[i] != _COMMA:
            raise ValueError("bad object")
        i = _ws(b, i + 1, n)


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
        exp = scan(binascii.a2b_base64(s), (b"exp",), [None])[0]
    except (ValueError, TypeError, IndexError):
        return None
    return exp if type(exp) is int else None
