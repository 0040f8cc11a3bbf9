# iotauth grant: the token request of each grant, form- or JSON-encoded, with client
# authentication in the body, by HTTP Basic, by a signed assertion (assertion.py) or by the
# TLS handshake (mutual TLS: the client id alone in the body). At boot it writes the
# renewal's requests into the config, ready to send; after that it loads only for the device
# grant, a refresh token that needs escaping, a signed assertion or, in a frozen build, each
# renewal. MIT licence.
import json

_SAFE = b"-._~"
_MARK = "iotauth-refresh-token"  # where the refresh token goes in the prepared body
_SIGNED = "iotauth-assertion"  # where a fresh client assertion goes (client_auth jwt)


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


def quote(cfg, s):
    # A secret as the request body must carry it.
    if cfg.encoding == "json":
        return json.dumps(s)[1:-1].encode()
    return _quote(s)


def _field(out, k, v):
    if type(out) is dict:  # JSON encoding (ModularIoT): rare, a plain dict
        out[k] = v
        return
    if out:
        out.append(b"&")
    out.append(k)
    out.append(b"=")
    out.append(_quote(v))


def request(cfg, grant, secret=None, assertion=None):
    # -> (body pieces, content type, Authorization value or None) for one token request.
    # grant is the grant_type to send (None: the device authorization request, RFC 8628
    # 3.1); secret the refresh token or device code it needs; assertion what stands for the
    # client assertion (client_auth jwt; None: one signed now).
    body = {} if cfg.encoding == "json" else []
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
    elif cfg.client_auth == "jwt":  # RFC 7523 2.2: a signed assertion, never the secret
        from . import use

        a = use("assertion")
        _field(body, "client_id", cfg.client_id)
        _field(body, "client_assertion_type", a.TYPE)
        _field(body, "client_assertion", assertion or a.make(cfg))
    else:
        if cfg.client_id:
            _field(body, "client_id", cfg.client_id)
        if cfg.client_secret and cfg.client_auth != "tls":  # tls: the handshake proved it
            _field(body, "client_secret", cfg.client_secret)
    if grant != "refresh_token":
        # A refresh asks for nothing new: the server may have granted less than asked (RFC
        # 6749 3.3) and refuses a refresh asking for more (section 6).
        if cfg.scope:
            _field(body, "scope", cfg.scope)
        if cfg.audience:
            _field(body, "audience", cfg.audience)
    if cfg.resource:  # RFC 8707: the API the token is for, on every token request
        _field(body, "resource", cfg.resource)
    if type(body) is dict:
        return [json.dumps(body)], b"application/json", auth
    return body, b"application/x-www-form-urlencoded", auth


def head(cfg, parts, ctype, auth):
    # The request head for the transport: bytes up to the Content-Length value for the
    # built-in client, a headers dict for requests.
    if cfg.via == "viarequests":
        h = {"Content-Type": ctype.decode(), "Accept": "application/json"}
        if auth:
            h["Authorization"] = auth.decode()
        return h
    h = b"POST %s HTTP/1.0\r\nHost: %s\r\n" % (parts[3], parts[4].encode())
    if auth:
        h += b"Authorization: " + auth + b"\r\n"
    return h + b"Accept: application/json\r\nContent-Type: " + ctype + b"\r\nContent-Length: "


def _join(pieces):
    return b"".join([p if type(p) is bytes else p.encode() for p in pieces])


def prepare(cfg):
    # Writes the token requests a renewal sends into cfg: head, the primary grant's body
    # (None: the agent asks this module each time) and the refresh grant's body around the
    # token (pre, post). With client_auth jwt the last of them (body, post) is split
    # around the assertion, which endpoint signs afresh for each request.
    grant = cfg.grant
    if grant == "static":
        return
    signed = _SIGNED if cfg.client_auth == "jwt" else None
    pieces, ctype, auth = request(cfg, "refresh_token", _MARK, signed)
    cfg.pre, cfg.post = _split(_join(pieces), _MARK)
    cfg.post = _split(cfg.post, signed)
    cfg.head = head(cfg, cfg.token_url_parts, ctype, auth)
    cfg.body = None
    if grant == "client_credentials" or grant == "password":
        cfg.body = _split(_join(request(cfg, grant, None, signed)[0]), signed)


def _split(body, mark):
    # body around mark: (before, after); body itself without a mark.
    if mark is None:
        return body
    i = body.find(mark.encode())
    return body[:i], body[i + len(mark) :]


def compose(cfg, parts, grant, secret=None):
    # Any request to the token or device authorization endpoint: (head, body pieces).
    pieces, ctype, auth = request(cfg, grant, secret)
    h = cfg.head if parts is cfg.token_url_parts and cfg.head else head(cfg, parts, ctype, auth)
    return h, pieces
