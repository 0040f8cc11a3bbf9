# iotauth agent: hands out a valid access token, renews it ahead of expiry (refresh token
# first, then the primary grant), backs off after failures and keeps it in flash across
# reboots. The agent alone writes its state. MIT licence.
import gc

from micropython import const

from . import use
from . import AuthError, CredentialsError, TransientError
from .token import Deadline, Token, unix

# Code loaded on demand (use()): store at boot and after each renewal; endpoint and the
# transport (http or viarequests) for each renewal; failure after one fails; device while a
# device authorization is pending; api at the first request().

_POLL_MAX = const(3600)  # poll() asks to be called at least hourly: deadlines stay rebased
_WAIT = const(4)  # back-off when even the failure code finds no heap (failure.py: the rest)
_FAILS_MAX = const(16)


class Agent:
    def __init__(self, cfg, state="auth.state"):
        self.last_error = None
        self.on_code = None  # device_code: callback(uri, user_code, uri_complete)
        self._cfg = cfg
        self._tok = None
        self._hdrs = {}  # {header: value}: one dict for the agent's life
        self._fails = 0
        self._wait = None  # Deadline of the back-off, None when free to ask
        self._wall = None  # persisted expiries (Unix seconds) waiting for the RTC to be set
        self._store = None  # the flash slots' record (store.py), None for a static token
        self._flow = None  # a pending device authorization (device.Flow)
        # Made now for a renewal that meets a full heap: its error and its back-off.
        self._oom = TransientError("out of memory during the renewal")
        self._hold = Deadline(0)
        if cfg.grant == "static":
            self._tok = Token(cfg.token)
            self._header()
            return
        s = use("store")
        self._store = st = s.new(state)
        r = s.restore(st, cfg)
        s = None
        if r is not None:
            self._tok = r[0]
            self._header()
            if r[1] is not None:
                self._wall = r[1]
                self._resolve()
        r = None
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
                t.expiry = Deadline(0)
            else:
                t.expiry.restart(0)  # in place: allocates nothing

    def poll(self):
        try:
            self._resolve()  # persisted expiries judged once NTP has set the clock
            self.token()
        except TransientError as e:
            return max(1, e.retry_after)
        except MemoryError:  # no heap to judge the persisted expiries: the next poll will
            return 1
        t = self._tok
        if t.fresh():
            d = t.expires_in()
            return _POLL_MAX if d is None else max(1, min(d - t.lead, _POLL_MAX))
        w = self._wait  # a valid token is served while renewal waits out its back-off
        return max(1, min(w.remaining() if w else 1, _POLL_MAX))

    def request(self, method, url, **kw):
        from .api import request  # stays loaded, with http: a sketch that calls it calls often

        return request(self, method, url, kw)

    def __getattr__(self, name):
        # The asyncio API (CONTRACT.md: atoken, aheaders, apoll; keep_fresh) comes from
        # aio.py on first use and is kept on the agent: a sketch that never awaits carries
        # none of its code, one that does finds it as it finds any method.
        if name not in ("atoken", "aheaders", "apoll", "keep_fresh"):
            raise AttributeError(name)
        for k, m in use("aio").methods(self).items():
            setattr(self, k, m)
        return getattr(self, name)

    # Renewal

    def _obtain(self):
        # Returns at once, allocating nothing, while the token is fresh (the hot path).
        t = self._tok
        if t is not None and t.fresh():
            if self._hdrs or self._ready():
                return
            raise self._oom
        w = self._wait
        if w is not None:
            r = w.remaining()
            if r > 0:
                if self._ready():
                    return
                raise TransientError(
                    "no token request for %d s after: %s" % (r, self.last_error), r
                )
            self._wait = None
        t = None  # no reference here to the old token: its heap is free once replaced
        self._hdrs.clear()  # so is the old header value's (1 KB for a JWT), made again
        gc.collect()  # its blocks join the free ones before the request takes any
        try:
            try:
                self._renew()
            except MemoryError:
                # A full heap is a passing state (the app's own data, fragmentation): wait
                # and try again, like any transient failure.
                gc.collect()
                raise self._oom
            except (ValueError, IndexError, KeyError):  # UnicodeError is a ValueError
                raise TransientError("unreadable answer from the token endpoint")
        except AuthError as e:
            self._failed(e)
            if self._ready():  # a still-valid token keeps being served
                return
            raise
        self._fails = 0
        self.last_error = None

    def _renew(self):
        # Fetches a new token and makes it the agent's; raises AuthError.
        cfg = self._cfg
        old = self._tok
        tok = None
        if old is not None and old.can_refresh():
            try:
                tok = use("endpoint", True).fetch(self, "refresh_token", old.refresh)
            except CredentialsError:
                if old.refresh == cfg.refresh_token:
                    raise  # the provisioned token itself: nothing to fall back to
                old.refresh = None  # rejected: fall back to the primary grant
        if tok is None:
            if cfg.grant == "device_code":
                f = self._flow
                if f is None:
                    # Stays loaded for this grant (with endpoint and failure): it
                    # polls every few seconds while the user approves.
                    from .device import Flow

                    self._flow = f = Flow()
                tok = f.token(self)  # raises while the user has not approved yet
                self._flow = None
            else:  # the grant's own request (refresh_token: the provisioned token)
                tok = use("endpoint", True).fetch(self, cfg.grant, cfg.refresh_token)
        elif tok.refresh is None:  # RFC 6749 6: no new refresh token, the old one stays
            tok.refresh = old.refresh
            tok.rexpiry = old.rexpiry
        old = None  # the old token's heap comes back before the state write needs some
        # The token reaches flash before its header is made, so a rotated refresh token is
        # kept even if the heap has no room left for the header.
        self._tok = tok
        self._wall = None
        self._save(tok)
        self._header()

    def _failed(self, e):
        # Records failure e and how long to wait before asking again (failure.py: exponential
        # with jitter, at least the server's Retry-After); exactly the interval asked while
        # a device authorization is pending.
        self.last_error = e
        if getattr(e, "pending", False):
            self._wait = Deadline(e.retry_after)
            return
        if self._fails < _FAILS_MAX:
            self._fails += 1
        try:
            d = use("failure").backoff(e, self._fails)
            self._wait = Deadline(d)
        except MemoryError:
            # No heap for that code: the shortest back-off, doubling, on objects made at
            # boot, so that recording the failure allocates nothing.
            d = _WAIT << min(self._fails, 8)
            self._wait = w = self._hold
            w.restart(d)
        if isinstance(e, TransientError):
            e.retry_after = d

    def _ready(self):
        # Whether the token is valid with its header made: a full heap may have kept the
        # header from being made after a renewal; it is made here when there is room.
        t = self._tok
        if t is None or not t.valid():
            return False
        if not self._hdrs:
            try:
                self._header()
            except MemoryError:
                return False
        return True

    def _header(self):
        # Allocates the header value; the dict is updated in place.
        p = self._cfg.prefix
        a = self._tok.access
        self._hdrs[self._cfg.header] = p + a if p else a

    # Flash

    def _save(self, tok):
        # The token to flash, its expiries by the wall clock when it is set.
        now = unix()
        e = re = None
        if now is not None:
            if tok.expiry is not None:
                e = now + tok.expiry.remaining()
            if tok.rexpiry is not None:
                re = now + tok.rexpiry.remaining()
        try:
            use("store", True).save(
                self._store, (self._cfg.id, tok.access, tok.refresh, tok.life, e, re)
            )
        except (OSError, ValueError):
            pass  # flash full or failing: the token still serves until the next reboot

    def _resolve(self):
        # Judges persisted expiries by the wall clock, once the RTC is set (NTP).
        w = self._wall
        if w is None:
            return
        now = unix()
        if now is None:
            return
        e, re = w
        self._wall = None
        t = self._tok
        if type(e) is int:
            t.expiry = Deadline(e - now)
        if type(re) is int:
            if re > now:
                t.rexpiry = Deadline(re - now)
            else:
                t.refresh = None
