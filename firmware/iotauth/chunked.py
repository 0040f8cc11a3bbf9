# iotauth chunked: decodes a chunked body in place, for the rare server that sends one to an
# HTTP/1.0 request. Loaded only then. MIT licence.


def decode(mv, s, e):
    # The chunked body in mv[s:e], decoded in place; returns its new end.
    w = r = s
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
        mv[w : w + size] = bytes(mv[r : r + size])
        w += size
        r += size + 2
