# iotauth url: an http(s) URL split into what a request needs, once. MIT licence.


def split(url):
    # "https://host:port/path" -> [tls, host, port, path, Host header, address, size]; the
    # last two are what http.py learns of the endpoint: the address DNS gave (None: ask) and
    # the size of the largest message exchanged (the next request's buffer). ValueError if
    # not http(s).
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError("scheme")
    host, _, path = rest.partition("/")
    tls = scheme == "https"
    port = 443 if tls else 80
    if host.startswith("["):  # [::1]:8443
        host, _, p = host[1:].partition("]")
        p = p[1:]
    else:
        host, _, p = host.partition(":")
    if p:
        port = int(p)
    if not host or not 0 < port < 65536:
        raise ValueError("host")
    hdr = "[%s]" % host if ":" in host else host
    if port != (443 if tls else 80):
        hdr += ":%d" % port
    return [tls, host, port, ("/" + path).encode(), hdr, None, 0]
