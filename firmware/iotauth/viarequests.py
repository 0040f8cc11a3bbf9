# iotauth viarequests: token requests through the board's requests/urequests module, for
# users who choose transport "requests". It reads whole bodies: bounded after the fact.
# MIT licence.
from micropython import const

from . import TransientError

_SIZE = const(8192)  # as the builtin client's bound


def module():
    try:
        import requests
    except ImportError:
        import urequests as requests
    return requests


def request(agent, method, url, kw):
    # Agent.request: the call with the auth header added; on 401 renews once and retries.
    h = kw.pop("headers", None)
    h = dict(h) if h else {}
    h.update(agent.headers())
    rq = module()
    r = rq.request(method, url, headers=h, **kw)
    if r.status_code == 401 and agent._cfg.grant != "static":
        r.close()
        agent.invalidate()
        h.update(agent.headers())
        r = rq.request(method, url, headers=h, **kw)
    return r


def post(parts, head, body, timeout, ca):
    # http.post's twin: -> (status, headers dict, body). head: grant.head()'s headers
    # dict; body: pieces, joined here: requests wants one object.
    tls, _, _, path, hosthdr = parts
    url = ("https://" if tls else "http://") + hosthdr + str(path, "utf-8")
    body = b"".join([p if type(p) is bytes else bytes(p, "utf-8") for p in body])
    try:
        r = module().post(url, data=body, headers=head, timeout=timeout)
    except OSError:
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
