# iotauth viarequests: token requests through a requests-shaped client: the session given to
# load() (an adafruit_requests Session on CircuitPython), or the board's requests/urequests
# module for transport "requests". It reads whole bodies: bounded by Content-Length first
# where the client tells it, after the fact otherwise. No redirect is followed with a token
# request's secrets. MIT licence.
from micropython import const

from . import use
from . import ConfigError, TransientError

_SIZE = const(8192)  # as the builtin client's bound
_REDIRECT = "iotauth: redirect refused"


def module():
    try:
        import requests
    except ImportError:
        import urequests as requests
    return requests


def _headers(line, d):
    # requests' parse_headers hook, called for each header line before requests acts on
    # it. A token request carries secrets, and requests follows every redirect with its
    # body and headers (a 307 re-posts the client secret): a Location stops it here.
    k, _, v = line.partition(b":")
    if k.strip().lower() == b"location":
        raise OSError(_REDIRECT)  # requests closes its socket and re-raises
    try:
        d[str(k, "utf-8").strip()] = str(v, "utf-8").strip()
    except ValueError:  # not UTF-8: raised here, requests would not close its socket
        pass


def post(cfg, parts, head, body):
    # http.post's twin: -> (status, headers dict, body). head: grant.head()'s headers dict;
    # body: pieces, joined here: requests wants one object.
    tls, path, hosthdr = parts[0], parts[3], parts[4]
    url = ("https://" if tls else "http://") + hosthdr + str(path, "utf-8")
    body = b"".join([p if type(p) is bytes else bytes(p, "utf-8") for p in body])
    s = cfg.session
    try:
        if s is None:
            r = module().post(
                url, data=body, headers=head, timeout=cfg.timeout, parse_headers=_headers
            )
        else:
            # adafruit_requests follows a redirect with the method, body and headers: never.
            r = s.request("POST", url, data=body, headers=head, timeout=cfg.timeout,
                          allow_redirects=False)  # fmt: skip
    except OSError as e:
        if e.args and e.args[0] == _REDIRECT:
            raise TransientError("token endpoint redirected, not followed")
        raise TransientError(use("failure").reason(e))
    except TypeError as e:
        if "allow_redirects" in str(e):  # it cannot be told not to follow redirects
            raise ConfigError("load(session=...): its request() must take allow_redirects")
        raise TransientError("the session failed (TypeError)")
    except (ValueError, IndexError, RuntimeError):  # adafruit_requests: out of retries
        raise TransientError("malformed HTTP response or no answer")
    try:
        head = getattr(r, "headers", None) or {}
        n = None
        for k in head:
            if k.lower() == "content-length":
                n = head[k]
        if n is not None and int(n) > _SIZE:
            raise TransientError("response too large")
        body = r.content
    except (OSError, ValueError):
        raise TransientError("malformed HTTP response")
    finally:
        r.close()
    if len(body) > _SIZE:
        raise TransientError("response too large")
    return r.status_code, head, memoryview(body)
