# iotauth config: reads auth.json, fills a platform preset's defaults and checks every
# field, naming the file and the field, never a value; splits its URLs into what a request
# needs. Runs at boot (and for request() to a new URL). MIT licence.
import json
import os

from . import Config, use
from . import ConfigError


def load(path, session=None):
    # A field missing from the file comes from os.getenv("IOTAUTH_<FIELD>") where the port has
    # it (CircuitPython reads settings.toml; the unix ports, the environment); with no file
    # at all, the whole config may come from there.
    getenv = getattr(os, "getenv", None)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        if getenv is not None and (getenv("IOTAUTH_GRANT") or getenv("IOTAUTH_PRESET")):
            return parse({}, "settings.toml", getenv, session)
        raise ConfigError("%s: cannot read the config file" % path)
    try:
        # MicroPython's json takes a trailing or a missing comma that the host's refuses:
        # the scanner then holds the object to JSON's syntax.
        obj = json.loads(raw)
        if type(obj) is dict:
            use("jsonscan").check(raw)
    except (ValueError, IndexError):
        raise ConfigError("%s: not valid JSON (python -m tools.provision check says where)" % path)
    return parse(obj, path, getenv, session)


def parse(raw, path="auth.json", getenv=None, session=None):
    # session: the client given to load(), whose own SSL context verifies the server.
    f = use("fields")
    STR, INT, BOOL, TYPES, PRESETS = f.STR, f.INT, f.BOOL, f.TYPES, f.PRESETS

    def fail(field, what):
        raise ConfigError("%s: field '%s' %s" % (path, field, what))

    if type(raw) is not dict:
        raise ConfigError("%s: must hold a JSON object" % path)
    for k, v in raw.items():
        t = TYPES.get(k)
        if t is None:
            fail(k, "is unknown")
        if v is None:
            fail(k, "must not be null")
        if (t is STR and type(v) is not str) or (t is INT and type(v) is not int):
            fail(k, "must be %s" % t)
        if t is BOOL and type(v) is not bool:
            fail(k, "must be %s" % t)
    if getenv is not None:
        raw = dict(raw)
        for k, t in TYPES.items():
            if k not in raw:
                v = getenv("IOTAUTH_" + k.upper())
                if v is not None and v != "":
                    raw[k] = _typed(v, t, f, k)
    d = dict(f.DEFAULTS)
    preset = raw.get("preset")
    if preset is not None:
        p = PRESETS.get(preset)
        if p is None:
            fail("preset", "names no known preset (%s)" % ", ".join(sorted(PRESETS)))
        d.update(p or {})
    d.update(raw)
    for k, choices in f.CHOICES.items():
        if k not in d or d[k] is None:
            fail(k, "is required")
        if d[k] not in choices:
            fail(k, "must be one of " + ", ".join(choices))
    grant = d["grant"]
    how = d["client_auth"]
    # With mutual TLS the key in the handshake is the client's proof: no secret to need.
    spare = "client_secret" if how == "tls" else None
    for k in f.NEEDS[grant]:
        if not d.get(k) and k != spare:
            fail(k, "is required for grant " + grant)
    if how in _AUTH_NEEDS:  # the assertion is signed with the secret; TLS proves the key
        for k in _AUTH_NEEDS[how]:
            if not d.get(k):
                fail(k, "is required for client_auth " + how)
    for k, other in (("cert", "key"), ("key", "cert")):
        if d.get(other) and not d.get(k):  # one without the other proves nothing
            fail(k, "is required with '%s'" % other)
    for k in f.PRESET_NEEDS.get(preset or "", ()):
        if not d.get(k) and k != spare:
            fail(k, "is required by preset %s" % preset)
    for k, v in d.items():
        if v is None:
            fail(k, "is required by preset %s" % preset)
    if d["margin"] < 0:
        fail("margin", "must not be negative")
    if d["timeout"] <= 0:
        fail("timeout", "must be positive")
    if not d["header"]:
        fail("header", "must not be empty")
    f = None
    for k in ("token_url", "device_authorization_url"):
        url = d.get(k)
        if url and grant != "static":
            if "{realm}" in url:
                if not d.get("realm"):
                    fail("realm", "is required to fill the token_url of preset %s" % preset)
                d[k] = url = url.replace("{realm}", d["realm"])
            d[k + "_parts"] = _check_url(url, k, d, fail, session)
    for k in ("ca", "api_ca", "cert"):
        if d.get(k):
            _check_ca(d[k], k, fail)
    if d.get("key"):
        _check_key(d["key"], fail)
    if d.get("cert") and d["transport"] == "requests":
        fail("cert", "needs transport builtin: requests presents no client certificate")
    c = Config()
    for k, v in d.items():
        if v is not None and k not in _BOOT_ONLY:
            setattr(c, k, v)
    setattr(c, "id", _identity(d))  # noqa: B010
    s = d["scheme"]
    setattr(c, "prefix", s + " " if s else None)  # noqa: B010
    via = "viarequests" if d["transport"] == "requests" or session is not None else "http"
    setattr(c, "via", via)  # noqa: B010
    if session is not None:
        setattr(c, "session", session)  # noqa: B010
    return c


def _typed(v, t, f, k):
    # A value from settings.toml (str or int) or the environment (str) as field k's type t;
    # ConfigError naming the variable, never the value.
    if t is f.STR:
        return v if type(v) is str else str(v)
    if type(v) is str:
        w = v.strip().lower()
        if t is f.BOOL and w in ("true", "false", "1", "0"):
            return w in ("true", "1")
        if t is f.INT and w.isdigit():
            return int(w)
    elif type(v) is int:
        if t is f.INT:
            return v
        if v in (0, 1):
            return v == 1
    elif type(v) is bool and t is f.BOOL:
        return v
    raise ConfigError("IOTAUTH_%s (settings.toml or environment): must be %s" % (k.upper(), t))


# Fields a client authentication cannot do without.
_AUTH_NEEDS = {"jwt": ("client_id", "client_secret"), "tls": ("client_id", "cert", "key")}

# Fields read only here: the agent keeps what they gave (the URLs' parts, the prefix).
_BOOT_ONLY = ("preset", "realm", "scheme", "token_url", "device_authorization_url")


def _identity(d):
    # Which credentials a persisted token belongs to: a new auth.json starts afresh.
    import binascii
    import hashlib

    h = hashlib.sha256()
    for k in ("grant", "token_url", "client_id", "username", "scope", "audience", "refresh_token"):
        h.update((d.get(k) or "").encode())
        h.update(b"\n")
    if d.get("resource"):  # hashed only when set, so existing states keep their identity
        h.update(d["resource"].encode())
    return binascii.hexlify(h.digest()[:8]).decode()


def _check_ca(path, k, fail):
    # The CA must hold certificates now: found out at the first renewal, a wrong file would
    # look like a broken server and be retried for ever.
    try:
        os.stat(path)
    except OSError:
        fail(k, "names a file that cannot be read")
    try:
        ders = use("tls").certs(path)
        if not ders:
            raise ValueError("no certificate")
        for d in ders:
            _der(d)
    except (ValueError, IndexError):
        fail(k, "names a file that holds no certificate (DER, or PEM with BEGIN CERTIFICATE)")
    except OSError:
        fail(k, "names a file that cannot be read")


def _check_key(path, fail):
    # The device's private key, unencrypted: the board has no passphrase to open it.
    try:
        use("tls").key(path)
    except (ValueError, IndexError):
        fail("key", "names a file that holds no unencrypted private key (DER or PEM)")
    except OSError:
        fail("key", "names a file that cannot be read")


def _der(d):
    # ValueError unless d is one DER certificate: a SEQUENCE whose first element is a
    # SEQUENCE, no longer than the data (mbedtls reads past trailing bytes).
    if len(d) < 4 or d[0] != 0x30:
        raise ValueError("not DER")
    n = d[1]
    i = 2
    if n & 0x80:
        k = n & 0x7F
        if not 0 < k < 4:
            raise ValueError("not DER")
        n = 0
        for j in range(k):
            n = n << 8 | d[2 + j]
        i = 2 + k
    if i + n > len(d) or d[i] != 0x30:
        raise ValueError("not a certificate")


def _check_url(url, k, d, fail, session):
    if url.startswith("http://"):
        if not d["insecure_http"]:
            fail(k, "uses http://, which sends secrets in clear: set insecure_http for a test")
    elif url.startswith("https://") and session is None:  # a session's context verifies
        if not d.get("ca") and not d["insecure_tls"]:
            fail(k, "uses https:// without ca: set ca to the server's CA certificate")
        if d["transport"] == "requests" and not d["insecure_tls"]:
            fail(k, "uses https:// with transport requests, which never verifies: use builtin")
    try:
        return split(url)
    except ValueError:
        fail(k, "must be an https:// or http:// URL with a host")


def split(url):
    # "https://host:port/path" -> [tls, host, port, path, Host header, address, size]; the
    # last two are what http.py learns of the endpoint: the address DNS gave (None:
    # ask) and the size of the largest message exchanged (the next request's buffer).
    # ValueError if not http(s).
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
