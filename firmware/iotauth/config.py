# iotauth config: reads auth.json, fills a platform preset's defaults and checks every
# field, naming the file and the field, never a value. MIT licence.
import binascii
import hashlib
import json
import os

from . import Config
from .errors import ConfigError
from .grant import prepare

_S = "a string"
_I = "an integer"
_B = "true or false"

_TYPES = {
    "preset": _S,
    "grant": _S,
    "token_url": _S,
    "client_id": _S,
    "client_secret": _S,
    "client_auth": _S,
    "encoding": _S,
    "scope": _S,
    "audience": _S,
    "username": _S,
    "password": _S,
    "refresh_token": _S,
    "token": _S,
    "header": _S,
    "scheme": _S,
    "margin": _I,
    "ca": _S,
    "insecure_http": _B,
    "insecure_tls": _B,
    "transport": _S,
    "timeout": _I,
    "device_authorization_url": _S,
    "realm": _S,
}

_DEFAULTS = {
    "client_auth": "body",
    "encoding": "form",
    "header": "Authorization",
    "scheme": "Bearer",
    "margin": 60,
    "insecure_http": False,
    "insecure_tls": False,
    "transport": "builtin",
    "timeout": 10,
}

_CHOICES = {
    "grant": ("static", "client_credentials", "password", "refresh_token", "device_code"),
    "client_auth": ("body", "basic"),
    "encoding": ("form", "json"),
    "transport": ("builtin", "requests"),
}

# Fields each grant cannot do without.
_NEEDS = {
    "static": ("token",),
    "client_credentials": ("token_url", "client_id", "client_secret"),
    "password": ("token_url", "client_id", "username", "password"),
    "refresh_token": ("token_url", "refresh_token"),
    "device_code": ("token_url", "device_authorization_url", "client_id"),
}

_CC = "client_credentials"
_MYD = "https://auth.mydevices.com/auth/realms/{realm}/protocol/openid-connect/token"
PRESETS = {
    "mydevices-admin": {"grant": _CC, "token_url": _MYD},
    "mydevices-user": {
        "grant": "password",
        "token_url": "https://api.mydevices.com/v1.0/oauth/token",
    },
    "devensoft": {"grant": _CC},
    "yipii": {"grant": _CC},
    "modulariot": {
        "grant": _CC,
        "encoding": "json",
        "token_url": "https://api.microboxlabs.com/api/v1/login",
        "audience": None,  # required: no default
    },
    "allthingstalk-device": {"grant": "static"},
    "allthingstalk-ground": {"grant": "static"},
    "allthingstalk-user": {
        "grant": "refresh_token",
        "token_url": "https://api.allthingstalk.io/login",
        "client_id": "web",  # the client id AllThingsTalk documents for its clients
    },
}


def load(path):
    try:
        with open(path) as f:
            raw = json.load(f)
    except OSError:
        raise ConfigError("%s: cannot read the config file" % path)
    except ValueError:
        raise ConfigError("%s: not valid JSON" % path)
    return parse(raw, path)


def parse(raw, path="auth.json"):
    def fail(field, what):
        raise ConfigError("%s: field '%s' %s" % (path, field, what))

    if type(raw) is not dict:
        raise ConfigError("%s: must hold a JSON object" % path)
    for k, v in raw.items():
        t = _TYPES.get(k)
        if t is None:
            fail(k, "is unknown")
        if v is None:
            fail(k, "must not be null")
        if (t is _S and type(v) is not str) or (t is _I and type(v) is not int):
            fail(k, "must be " + t)
        if t is _B and type(v) is not bool:
            fail(k, "must be " + t)
    d = dict(_DEFAULTS)
    preset = raw.get("preset")
    if preset is not None:
        p = PRESETS.get(preset)
        if p is None:
            fail("preset", "names no known preset (%s)" % ", ".join(sorted(PRESETS)))
        d.update(p or {})
    d.update(raw)
    for k, choices in _CHOICES.items():
        if k not in d or d[k] is None:
            fail(k, "is required")
        if d[k] not in choices:
            fail(k, "must be one of " + ", ".join(choices))
    grant = d["grant"]
    for k in _NEEDS[grant]:
        if not d.get(k):
            fail(k, "is required for grant " + grant)
    for k, v in d.items():
        if v is None:
            fail(k, "is required by preset %s" % preset)
    if d["margin"] < 0:
        fail("margin", "must not be negative")
    if d["timeout"] <= 0:
        fail("timeout", "must be positive")
    if not d["header"]:
        fail("header", "must not be empty")
    for k in ("token_url", "device_authorization_url"):
        url = d.get(k)
        if url and grant != "static":
            if "{realm}" in url:
                if not d.get("realm"):
                    fail("realm", "is required to fill the token_url of preset %s" % preset)
                d[k] = url = url.replace("{realm}", d["realm"])
            d[k + "_parts"] = _check_url(url, k, d, fail)
    ca = d.get("ca")
    if ca:
        try:
            os.stat(ca)
        except OSError:
            fail("ca", "names a file that cannot be read")
    c = Config()
    for k in _TYPES:
        setattr(c, k, d.get(k))
    for k in ("token_url_parts", "device_authorization_url_parts"):
        setattr(c, k, d.get(k))
    setattr(c, "id", _identity(c))  # noqa: B010
    s = d["scheme"]
    setattr(c, "prefix", s + " " if s else None)  # noqa: B010
    prepare(c)
    return c


def _identity(c):
    # Which credentials a persisted token belongs to: a new auth.json starts afresh.
    h = hashlib.sha256()
    for v in (c.grant, c.token_url, c.client_id, c.username, c.scope, c.audience, c.refresh_token):
        h.update((v or "").encode())
        h.update(b"\n")
    return binascii.hexlify(h.digest()[:8]).decode()


def _check_url(url, k, d, fail):
    if url.startswith("http://"):
        if not d["insecure_http"]:
            fail(k, "uses http://, which sends secrets in clear: set insecure_http for a test")
    elif url.startswith("https://"):
        if not d.get("ca") and not d["insecure_tls"]:
            fail(k, "uses https:// without ca: set ca to the server's CA certificate")
        if d["transport"] == "requests" and not d["insecure_tls"]:
            fail(k, "uses https:// with transport requests, which never verifies: use builtin")
    try:
        return split(url)
    except ValueError:
        fail(k, "must be an https:// or http:// URL with a host")


def split(url):
    # "https://host:port/path" -> (tls, host, port, path, Host header); ValueError if not
    # http(s).
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
    return tls, host, port, ("/" + path).encode(), hdr
