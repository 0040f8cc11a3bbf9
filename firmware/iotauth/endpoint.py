# iotauth endpoint: one request to the token endpoint over the configured transport, sent
# as load() prepared it where it did, and its answer read: a Token from a 2xx (RFC 6749
# 5.1), the error it means otherwise (failure.py). Loaded for each renewal. MIT licence.
import gc
import json

from . import use
from . import TransientError
from .token import Token, lead, life, unix


def fetch(agent, grant, secret=None):
    # -> Token for grant (its grant_type); secret: the refresh token or device code it
    # sends. Raises AuthError.
    cfg = agent._cfg
    parts = cfg.token_url_parts
    if grant == "refresh_token" and cfg.pre is not None:
        if not _plain(secret):
            secret = use("grant").quote(cfg, secret)
        r = send(cfg, parts, cfg.head, _signed(cfg, (cfg.pre, secret, cfg.post)))
    elif grant == cfg.grant and cfg.body is not None:
        r = send(cfg, parts, cfg.head, _signed(cfg, (cfg.body,)))
    else:  # a frozen build (no prepared requests), the device grant, an odd token
        r = ask(cfg, parts, grant, secret)
    status, head, body = r
    r = None
    # The request's garbage (socket, TLS records) goes before the tokens are made.
    gc.collect()
    if 200 <= status < 300:
        return token(body, cfg.margin)
    raise refused(status, head, body, agent)


def refused(status, head, body, agent, what="token endpoint"):
    # -> the AuthError a non-2xx answer means (failure.py), with its body's error fields.
    d = obj(body) or {}  # not a JSON object: an HTML page, say
    return use("failure").refused(
        status, head, d.get("error"), d.get("error_description"), agent, what
    )


def ask(cfg, parts, grant, secret=None):
    # Any request to the token or device authorization endpoint, composed now: (status,
    # head, body).
    h, pieces = use("grant").compose(cfg, parts, grant, secret)
    return send(cfg, parts, h, pieces)


def _signed(cfg, pieces):
    # A prepared body as sent. With client_auth jwt its last piece is split around the
    # client assertion, signed now for this request (TransientError before NTP).
    if cfg.client_auth != "jwt":
        return pieces
    last = pieces[-1]
    return pieces[:-1] + (last[0], use("assertion", True).make(cfg), last[1])


def send(cfg, parts, head, body):
    # One request over the configured transport (http or viarequests): (status, head, body).
    # cfg.io: the request's answer on asyncio (aio.py), which sends it without blocking.
    io = cfg.io
    if io is not None:
        return io.post(cfg, parts, head, body)
    return use(cfg.via, True).post(cfg, parts, head, body)


def _plain(s):
    # True when s goes into a form or JSON body as it is (JWTs and most tokens do).
    for c in bytes(s, "utf-8"):
        if not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c in b"-._~"):
            return False
    return True


def obj(body):
    # The JSON object an answer's body holds, or None. The firmware's json (its code costs
    # no heap) reads the buffer in place; CPython's (the host tools) takes no memoryview, so
    # it reads a copy there. A scanner of our own, which made only the wanted fields'
    # strings, held its 1.8 KB of code at a .mpy renewal's peak (make bench).
    try:
        try:
            d = json.loads(body)
        except TypeError:
            d = json.loads(bytes(body))
    except ValueError:  # UnicodeError too
        return None
    return d if type(d) is dict else None


def token(body, margin):
    # -> Token from a 2xx token response body.
    d = obj(body)
    if d is None:
        raise TransientError("token response is not a JSON object")
    access, refresh = d.get("access_token"), d.get("refresh_token")
    n, rn = d.get("expires_in"), d.get("refresh_expires_in")
    # Emptied, not only let go: the other fields' strings are garbage before the Token is
    # made, even while a stale word on the stack (the collector is conservative) still
    # points at the dict.
    d.clear()
    if type(access) is not str or not access:
        raise TransientError("token response has no access_token")
    n = life(n)
    if n is None:  # absent or unusable: the JWT says (once the RTC is set), or a 401 will
        e = use("jsonscan").jwt_exp(access)
        now = unix()
        if e is not None and now is not None and e > now:
            n = life(e - now)
    return Token(
        access,
        refresh if type(refresh) is str and refresh else None,
        n,
        life(rn),
        0 if n is None else lead(n, margin),
    )
