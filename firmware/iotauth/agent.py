# iotauth agent: hands out a valid access token, renews it ahead of expiry (refresh token
# first, then the primary grant), backs off after failures and keeps it in flash across
# reboots. MIT licence.
import gc

from micropython import const

from . import clock, once
from .errors import AuthError, CredentialsError, TransientError
from .token import Token, lead, life

# Loaded on demand: store, http, jsonscan (not for a static token), device, viarequests; once:
# config and restore (at boot), grant (device grant, odd tokens), failure (after a
# failure), expiry, tls, chunked.

_POLL_MAX = const(3600)  # poll() asks to be called at least hourly: deadlines stay rebased


class Agent:
    def __init__(self, cfg, state="auth.state"):
        self.last_error = None
        self.on_code = None  # device_code: callback(uri, user_code, uri_complete)
        self._cfg = cfg
        self._tok = None
        self._hdrs = {}  # {header: value}: one dict for the agent's life
        self._fails = 0
        self._wait = None  # Deadline of the back-off, None when free to ask
        self._wall = None  # persisted expiries waiting for the RTC to be set
        self._store = None
        self._flow = None  # a pending device authorization (grant device_code)
        if cfg.grant == "static":
            self._set(Token(cfg.token))
        else:
            from .store import Store

            self._store = Store(state)
            once("restore").restore(self)
            gc.collect()  # the boot's garbage freed now: what loads next packs into it

    def __repr__(self):
        t = self._tok
        return "<Agent grant=%s token=%s>" % (
            self._cfg.grant,
            "none" if t is None else ("valid" if t.valid() else "expired"),
        )

    # Public API (CONTRACT.md)

    def token(self):
        self._obtain()
        return self._tok.access

    def headers(self):
        self._obtain()
        return self._hdrs

    def invalidate(self):
        t = self._tok
        if t is not None and self._cfg.grant != "static":
            if t.expiry is None:
                t.expiry = clock.Deadline(0)
            else:
                t.expiry.left = 0  # in place: allocates nothing

    def poll(self):
        if self._wall is not None:
            once("restore").resolve(self)
        try:
            self.token()
        except TransientError as e:
            return max(1, e.retry_after)
        t = self._tok
        if t.fresh():
            d = t.expires_in()
            return _POLL_MAX if d is None else max(1, min(d - t.lead, _POLL_MAX))
        w = self._wait  # a valid token is served while renewal waits out its back-off
        return max(1, min(w.remaining() if w else 1, _POLL_MAX))

    def request(self, method, url, **kw):
        from .viarequests import request

        return request(self, method, url, kw)

    # Renewal

    def _obtain(self):
        # Returns at once, allocating nothing, while the token is fresh (the hot path).
        t = self._tok
        if t is not None and t.fresh():
            return
        w = self._wait
        if w is not None:
            r = w.remaining()
            if r > 0:
                if t is not None and t.valid():
                    return
                raise TransientError(
                    "no token request for %d s after: %s" % (r, self.last_error), r
                )
            self._wait = None
        t = None  # no reference here to the old token: its heap is free once replaced
        h = self._hdrs
        h.clear()  # so is the old header value's (1 KB for a JWT), put back on failure
        try:
            self._renew()
        except AuthError as e:
            once("failure").backoff(self, e)
            t = self._tok
            if t is not None and t.valid():
                return
            raise
        finally:
            if not h and self._tok is not None:
                self._header()
        self._fails = 0
        self.last_error = None

    def _renew(self):
        cfg = self._cfg
        old = self._tok
        tok = None
        if old is not None and old.can_refresh():
            try:
                tok = self._fetch("refresh_token", old.refresh)
            except CredentialsError:
                if old.refresh == cfg.refresh_token:
                    raise  # the provisioned token itself: nothing to fall back to
                old.refresh = None  # rejected: fall back to the primary grant
        if tok is None:
            if cfg.grant == "refresh_token":
                tok = self._fetch("refresh_token", cfg.refresh_token)
            elif cfg.grant == "device_code":
                from .device import step

                tok = step(self)
            else:
                tok = self._fetch(cfg.grant)
        elif tok.refresh is None:  # RFC 6749 6: no new refresh token, the old one stays
            tok.refresh = old.refresh
            tok.rexpiry = old.rexpiry
        old = None  # the old token's heap comes back before the state write needs some
        self._set(tok)
        self._save(tok)  # a rotated refresh token reaches flash before the caller uses it

    def _fetch(self, grant_type, secret=None):
        # One token request, sent as config.py prepared it where it can be.
        cfg = self._cfg
        if grant_type == "refresh_token":
            if not _plain(secret):
                secret = once("grant").quote(cfg, secret)
            r = self.send(cfg.token_url_parts, cfg.head, (cfg.pre, secret, cfg.post))
        elif grant_type == cfg.grant and cfg.body is not None:
            r = self.send(cfg.token_url_parts, cfg.head, (cfg.body,))
        else:
            r = once("grant").post(self, cfg.token_url_parts, grant_type, secret)
        status, head, body = r
        if 200 <= status < 300:
            return _token(body, cfg.margin)
        raise once("failure").refused(status, head, body, self)

    def send(self, parts, head, body):
        # One request over the configured transport: (status, head, body).
        cfg = self._cfg
        if cfg.transport == "requests":
            from .viarequests import post as via
        else:
            from .http import post as via
        return via(parts, head, body, cfg.timeout, cfg.ca)

    def _set(self, tok):
        self._tok = tok
        self._wall = None
        self._header()

    def _header(self):
        # Allocates the header value; the dict is updated in place.
        p = self._cfg.prefix
        a = self._tok.access
        self._hdrs[self._cfg.header] = p + a if p else a

    # Flash

    def _save(self, tok):
        now = clock.unix()
        e = re = None
        if now is not None:
            if tok.expiry is not None:
                e = now + tok.expiry.remaining()
            if tok.rexpiry is not None:
                re = now + tok.rexpiry.remaining()
        try:
            self._store.save((self._cfg.id, tok.access, tok.refresh, tok.life, e, re))
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


def _token(body, margin):
    # -> Token from a 2xx token response body. Picks its fields out of the buffer: only the
    # tokens become strings.
    from .jsonscan import scan

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
