# iotauth agent: hands out a valid access token, renews it ahead of expiry (refresh token
# first, then the primary grant), backs off after failures and keeps it in flash across
# reboots. MIT licence.
import binascii
import hashlib

from micropython import const

from . import clock
from .errors import AuthError, CredentialsError, TransientError
from .token import Token

# grant, store, http and config load on first use: a static token never needs them.

_POLL_MAX = const(3600)  # poll() asks to be called at least hourly: deadlines stay rebased
_WAIT = const(4)  # first back-off after a transient failure, seconds; doubles per failure
_WAIT_CAP = const(600)
_REFUSED = const(60)  # first back-off after the server refused the credentials
_REFUSED_CAP = const(3600)
_RETRY_CAP = const(86400)  # a server's Retry-After is honoured up to a day


class Agent:
    def __init__(self, cfg, state="auth.state"):
        self.last_error = None
        self._cfg = cfg
        self._tok = None
        self._hdrs = {}  # {header: value}: one dict for the agent's life
        self._fails = 0
        self._wait = None  # Deadline of the back-off, None when free to ask
        self._wall = None  # persisted expiries waiting for the RTC to be set
        self._store = None
        self._flow = None  # a pending device authorization (grant device_code)
        self.on_code = None  # device_code: callback(uri, user_code, uri_complete)
        if cfg.grant == "static":
            self._set(Token(cfg.token))
        else:
            from .store import Store

            self._store = Store(state)
            self._id = _identity(cfg)
            self._restore()

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
            t.expire()

    def poll(self):
        if self._wall is not None:
            self._resolve()
        try:
            self.token()
        except TransientError as e:
            return max(1, e.retry_after)
        t = self._tok
        if t.fresh():
            d = t.due_in()
            return _POLL_MAX if d is None else max(1, min(d, _POLL_MAX))
        w = self._wait  # a valid token is served while renewal waits out its back-off
        return max(1, min(w.remaining() if w else 1, _POLL_MAX))

    def request(self, method, url, **kw):
        from .viarequests import module

        h = kw.pop("headers", None)
        h = dict(h) if h else {}
        h.update(self.headers())
        rq = module()
        r = rq.request(method, url, headers=h, **kw)
        if r.status_code == 401 and self._cfg.grant != "static":
            r.close()
            self.invalidate()
            h.update(self.headers())
            r = rq.request(method, url, headers=h, **kw)
        return r

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
            self._failed(e)
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
                if cfg.grant == "refresh_token" and old.refresh == cfg.refresh_token:
                    raise  # the provisioned token itself: nothing to fall back to
                old.refresh = None  # rejected: fall back to the primary grant
        if tok is None:
            if cfg.grant == "refresh_token":
                tok = self._fetch("refresh_token", cfg.refresh_token)
            elif cfg.grant == "device_code":
                tok = self._device()
            else:
                tok = self._fetch(cfg.grant)
        elif tok.refresh is None:  # RFC 6749 6: no new refresh token, the old one stays
            tok.refresh = old.refresh
            tok.rexpiry = old.rexpiry
        self._save(tok)  # a rotated refresh token reaches flash before the token is used
        self._set(tok)

    def _fetch(self, grant_type, secret=None):
        cfg = self._cfg
        status, retry, view = self._post(cfg.token_url, cfg.token_url_parts, grant_type, secret)
        from . import grant

        return grant.response(status, retry, view, cfg.margin, self._scrub)

    def _post(self, url, parts, grant_type, secret=None):
        cfg = self._cfg
        from . import grant

        body, ctype, auth = grant.request(cfg, grant_type, secret)
        if cfg.transport == "requests":
            from .viarequests import post

            return post(url, body, ctype, auth, cfg.timeout)
        from .http import post

        tls, host, port, path = parts
        return post(tls, host, port, path, body, ctype, auth, cfg.timeout, cfg.ca)

    def _device(self):
        # RFC 8628: one step per call: ask for a code, or poll once for the token.
        from . import device

        f = self._flow
        if f is None or f.expiry.remaining() <= 0:
            cfg = self._cfg
            status, _, view = self._post(
                cfg.device_authorization_url, cfg.device_authorization_url_parts, None
            )
            self._flow = f = device.start(status, view, self.on_code or device.show, self._scrub)
            raise device.pending("waiting for the user to approve the device", f.interval)
        try:
            tok = self._fetch(device.GRANT, f.code)
        except CredentialsError as e:
            wait = device.polled(f, e)
            if wait is None:
                self._flow = None  # denied or expired: the next attempt starts afresh
                raise
            raise wait
        self._flow = None
        return tok

    def _failed(self, e):
        self.last_error = e
        if getattr(e, "pending", False):  # device_code polling: exactly the interval
            self._wait = clock.Deadline(e.retry_after)
            return
        if self._fails < 16:
            self._fails += 1
        if isinstance(e, CredentialsError):
            d = min(_REFUSED << (self._fails - 1), _REFUSED_CAP)
        else:
            d = min(_WAIT << (self._fails - 1), _WAIT_CAP)
        d = d // 2 + clock.rand(d // 2 + 1)  # jitter: a fleet does not retry in step
        hint = getattr(e, "retry_after", 0) or 0
        if hint > d:
            d = min(hint, _RETRY_CAP)
        self._wait = clock.Deadline(d)
        if isinstance(e, TransientError):
            e.retry_after = d

    def _set(self, tok):
        self._tok = tok
        self._wall = None
        s = self._cfg.scheme
        # allocates: the header value; the dict is updated in place
        self._hdrs[self._cfg.header] = s + " " + tok.access if s else tok.access

    def _scrub(self, s):
        # Masks any secret of ours that a server echoes into an error message.
        c = self._cfg
        t = self._tok
        for v in (
            c.client_secret,
            c.password,
            c.refresh_token,
            c.token,
            t and t.access,
            t and t.refresh,
        ):
            if v and len(v) >= 4 and v in s:
                s = s.replace(v, "***")
        return s

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
            self._store.save((self._id, tok.access, tok.refresh, tok.life, e, re))
        except (OSError, ValueError):
            pass  # flash full or failing: the token still serves until the next reboot

    def _restore(self):
        try:
            d = self._store.load()
        except (OSError, ValueError, KeyError, TypeError):
            d = None
        if d is None or d.get("id") != self._id:
            return
        a, r, life = d.get("a"), d.get("r"), d.get("l")
        if type(a) is not str or (r is not None and type(r) is not str):
            return
        e, re = d.get("e"), d.get("re")
        if type(life) is not int or life <= 0:
            life = None
        from . import grant

        tok = Token(a, r, None, None, 0 if life is None else grant.lead(life, self._cfg.margin))
        tok.life = life
        self._set(tok)
        if e is None:  # saved before NTP: a JWT still says when it ends
            from .expiry import jwt_exp

            e = jwt_exp(a)
        if e is not None or re is not None:
            self._wall = (e, re)
            self._resolve()

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


def _identity(cfg):
    # Which credentials a persisted token belongs to: a new auth.json starts afresh.
    h = hashlib.sha256()
    for v in (
        cfg.grant,
        cfg.token_url,
        cfg.client_id,
        cfg.username,
        cfg.scope,
        cfg.audience,
        cfg.refresh_token,
    ):
        h.update((v or "").encode())
        h.update(b"\n")
    return binascii.hexlify(h.digest()[:8]).decode()


def load(config="auth.json", state="auth.state"):
    import sys

    from . import config as _config

    cfg = _config.load(config)
    # The parser and the preset tables are needed once: give their 9 KB of heap back.
    _config = None
    sys.modules.pop("iotauth.config", None)
    pkg = sys.modules.get("iotauth")
    if pkg is not None and "config" in dir(pkg):
        delattr(pkg, "config")
    return Agent(cfg, state)
