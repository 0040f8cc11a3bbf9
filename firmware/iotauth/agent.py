# iotauth agent: hands out a valid access token, renews it ahead of expiry (refresh token
# first, then the primary grant), backs off after failures and keeps it in flash across
# reboots. MIT licence.
import gc

from micropython import const

from . import clock, once
from .errors import AuthError, CredentialsError, TransientError
from .token import Token

# Loaded on demand, none for a static token: grant, http (or viarequests), store, device;
# for one use only: restore (at boot), failure (after a failure), expiry, tls, chunked.

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
        t = self._tok
        if t is None or not t.fresh():
            self._obtain()
            t = self._tok
        return t.access

    def headers(self):
        t = self._tok
        if t is None or not t.fresh():
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
            self._resolve()
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
        t = self._tok
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
        try:
            self._renew()
        except AuthError as e:
            once("failure").backoff(self, e)
            if t is not None and t.valid():
                return
            raise
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
        self._save(tok)  # a rotated refresh token reaches flash before the token is used
        self._set(tok)

    def _fetch(self, grant_type, secret=None):
        status, head, body = self._post(self._cfg.token_url_parts, grant_type, secret)
        if 200 <= status < 300:
            from .grant import token

            return token(body, self._cfg.margin)
        raise once("failure").refused(status, head, body, self)

    def _post(self, parts, grant_type, secret=None):
        # One request to the token (or device authorization) endpoint: (status, head, body).
        from .grant import request

        cfg = self._cfg
        body, ctype, auth = request(cfg, grant_type, secret)
        if cfg.transport == "requests":
            from .viarequests import post
        else:
            from .http import post
        return post(parts, body, ctype, auth, cfg.timeout, cfg.ca)

    def _set(self, tok):
        self._tok = tok
        self._wall = None
        s = self._cfg.scheme
        # allocates: the header value; the dict is updated in place
        self._hdrs[self._cfg.header] = s + " " + tok.access if s else tok.access

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

    def _resolve(self):
        # Judges persisted expiries by the wall clock, once the RTC is set (NTP).
        now = clock.unix()
        if now is None:
            return
        w = self._wall
        e = w[0]
        re = w[1]
        self._wall = None
        t = self._tok
        if type(e) is int:
            t.expiry = clock.Deadline(e - now)
        if type(re) is int:
            if re > now:
                t.rexpiry = clock.Deadline(re - now)
            else:
                t.refresh = None
