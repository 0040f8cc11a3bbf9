# iotauth renew: one renewal (refresh token first, then the primary grant), the token
# request as load() prepared it, the token response read and the new state written to
# flash. Loaded at the first renewal, not for a static token. MIT licence.
import gc

from . import clock, once
from . import CredentialsError, TransientError
from .jsonscan import scan
from .token import Token, lead, life


def renew(agent):
    # Fetches a new token and makes it the agent's; raises AuthError.
    cfg = agent._cfg
    old = agent._tok
    tok = None
    if old is not None and old.can_refresh():
        try:
            tok = fetch(agent, "refresh_token", old.refresh)
        except CredentialsError:
            if old.refresh == cfg.refresh_token:
                raise  # the provisioned token itself: nothing to fall back to
            old.refresh = None  # rejected: fall back to the primary grant
    if tok is None:
        if cfg.grant == "refresh_token":
            tok = fetch(agent, "refresh_token", cfg.refresh_token)
        elif cfg.grant == "device_code":
            from .device import step

            tok = step(agent)
        else:
            tok = fetch(agent, cfg.grant)
    elif tok.refresh is None:  # RFC 6749 6: no new refresh token, the old one stays
        tok.refresh = old.refresh
        tok.rexpiry = old.rexpiry
    old = None  # the old token's heap comes back before the state write needs some
    agent._set(tok, save)  # a rotated refresh token reaches flash before anyone uses it


def fetch(agent, grant_type, secret=None):
    # One token request, sent as load() prepared it where it did (not in a frozen build).
    cfg = agent._cfg
    if grant_type == "refresh_token" and cfg.pre is not None:
        if not _plain(secret):
            secret = once("grant").quote(cfg, secret)
        r = send(agent, cfg.token_url_parts, cfg.head, (cfg.pre, secret, cfg.post))
    elif grant_type == cfg.grant and cfg.body is not None:
        r = send(agent, cfg.token_url_parts, cfg.head, (cfg.body,))
    else:
        parts = cfg.token_url_parts
        h, pieces = once("grant").compose(cfg, parts, grant_type, secret)
        r = send(agent, parts, h, pieces)
    status, head, body = r
    gc.collect()  # the request's garbage (socket, TLS records) goes before the tokens are
    # made: measured, the smallest heap that runs is 1 KB lower over HTTPS
    if 200 <= status < 300:
        return token(body, cfg.margin)
    raise once("failure").refused(status, head, body, agent)


def send(agent, parts, head, body):
    # One request over the configured transport: (status, head, body).
    cfg = agent._cfg
    via = once("viarequests" if cfg.transport == "requests" else "http", True).post
    return via(parts, head, body, cfg.timeout, cfg.ca)


def save(agent, tok):
    # The token to flash, its expiries by the wall clock when it is set.
    now = clock.unix()
    e = re = None
    if now is not None:
        if tok.expiry is not None:
            e = now + tok.expiry.remaining()
        if tok.rexpiry is not None:
            re = now + tok.rexpiry.remaining()
    try:
        agent._store.save((agent._cfg.id, tok.access, tok.refresh, tok.life, e, re))
    except (OSError, ValueError):
        pass  # flash full or failing: the token still serves until the next reboot


def _plain(s):
    # True when s goes into a form or JSON body as it is (JWTs and most tokens do).
    for c in bytes(s, "utf-8"):
        if not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c in b"-._~"):
            return False
    return True


_KEYS = (b"access_token", b"refresh_token", b"expires_in", b"refresh_expires_in")
_out = [None] * len(_KEYS)  # reused by every token response


def token(body, margin):
    # -> Token from a 2xx token response body. Picks its fields out of the buffer: only the
    # tokens become strings.
    try:
        access, refresh, n, rn = scan(body, _KEYS, _out)
    except (ValueError, TypeError, IndexError):
        raise TransientError("token response is not a JSON object")
    if type(access) is not str or not access:
        raise TransientError("token response has no access_token")
    n = life(n)
    if n is None:  # absent or unusable: the JWT says, or a 401 will
        n = once("expiry").life(access)
    return Token(
        access,
        refresh if type(refresh) is str and refresh else None,
        n,
        life(rn),
        0 if n is None else lead(n, margin),
    )
