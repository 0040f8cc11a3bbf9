# iotauth chunked: decodes a chunked body in place, for the rare server that sends one to an
# HTTP/1.0 request. Loaded only then. MIT licence.


def _size(mv, r, k):
    # The chunk size at mv[r:k]: hex digits, then an optional ";extension". ValueError for
    # anything else (a sign, a space, nothing).
    v = -1
    while r < k and mv[r] != 0x3B:
        c = mv[r]
        if 0x30 <= c <= 0x39:
            c -= 0x30
        elif 0x61 <= c | 0x20 <= 0x66:  # a-f in either case
            c = (c | 0x20) - 0x57
        else:
            raise ValueError("chunk size")
        v = (0 if v < 0 else v * 16) + c
        r += 1
    if v < 0:
        raise ValueError("chunk size")
    return v


def named(v):
    # Whether a Transfer-Encoding value (str) ends in "chunked" (RFC 9112 6.1), any case.
    return v.lower().split(",")[-1].strip() == "chunked"


def value(b, i):
    # The header value that starts at b[i] as a str.
    return str(bytes(b[i : b.find(b"\r\n", i)]), "utf-8")


def decode(mv, s, e):
    # The chunked body in mv[s:e], decoded in place; returns its new end.
    w = r = s
    while True:
        k = r
        while k < e and mv[k] != 0x0D:
            k += 1
        if k + 1 >= e:
            raise ValueError("truncated chunk")
        size = _size(mv, r, k)
        r = k + 2
        if size == 0:
            return w
        if r + size + 2 > e:
            raise ValueError("truncated chunk")
        mv[w : w + size] = bytes(mv[r : r + size])
        w += size
        r += size + 2
