# iotauth viarequests: token requests through the board's requests/urequests module, for
# users who choose transport "requests". It reads whole bodies: bounded after the fact.
# MIT licence.
from micropython import const

from . import TransientError

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


def post(parts, head, body, timeout, ca):
    # http.post's twin: -> (status, headers dict, body). head: grant.head()'s headers
    # dict; body: pieces, joined here: requests wants one object.
    tls, path, hosthdr = parts[0], parts[3], parts[4]
    url = ("https://" if tls else "http://") + hosthdr + str(path, "utf-8")
    body = b"".join([p if type(p) is bytes else bytes(p, "utf-8") for p in body])
    try:
        r = module().post(url, data=body, headers=head, timeout=timeout, parse_headers=_headers)
    except OSError as e:
        if e.args and e.args[0] == _REDIRECT:
            raise TransientError("token endpoint redirected, not followed")
        raise TransientError("network error")
    except (ValueError, IndexError):
        raise TransientError("malformed HTTP response")
    try:
        head = getattr(r, "headers", None) or {}
        body = r.content
    except (OSError, ValueError):
        raise TransientError("malformed HTTP response")
    finally:
        r.close()
    if len(body) > _SIZE:
        raise TransientError("response too large")
    return r.status_code, head, memoryview(body)
