# iotauth agent: hands out a valid access token, renews it ahead of expiry (refresh token
# first, then the primary grant), backs off after failures and keeps it in flash across
# reboots. MIT licence.
import gc

from micropython import const

from . import clock, once
from . import AuthError, TransientError
from .token import Token

# Loaded on demand: store (none for a static token), device, api (with http and url). For
# one use only: config, fields, url, grant and restore at boot; renew, http (or
# viarequests) and jsonscan for each renewal; grant again for the device grant, an odd
# token or a frozen build's requests; failure after a refused answer; expiry, tls, chunked.

_POLL_MAX = const(3600)  # poll() asks to be called at least hourly: deadlines stay rebased
_WAIT = const(4)  # back-off when even the failure code finds no heap (failure.py: the rest)


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
        # Made now for a renewal that meets a full heap: its error and its back-off.
        self._oom = TransientError("out of memory during the renewal")
        self._hold = clock.Deadline(0)
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
                t.expiry.restart(0)  # in place: allocates nothing

    def poll(self):
        try:
            if self._wall is not None and clock.unix() is not None:
                once("restore").resolve(self)  # NTP has set the clock since boot
            self.token()
        except TransientError as e:
            return max(1, e.retry_after)
        except MemoryError:  # the restore code did not fit: the next poll tries again
            return 1
        t = self._tok
        if t.fresh():
            d = t.expires_in()
            return _POLL_MAX if d is None else max(1, min(d - t.lead, _POLL_MAX))
        w = self._wait  # a valid token is served while renewal waits out its back-off
        return max(1, min(w.remaining() if w else 1, _POLL_MAX))

    def request(self, method, url, **kw):
        from .api import request

        return request(self, method, url, kw)

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
                # Its code (and http's, jsonscan's) leaves the heap after each renewal: held
                # between renewals it would sit in the heap the app has at rest.
                once("renew", True).renew(self)
            except MemoryError:
                # A full heap is a passing state (the app's own data, fragmentation): wait
                # and try again, like any transient failure.
                gc.collect()
                raise self._oom
            except (ValueError, IndexError, KeyError):  # UnicodeError is a ValueError
                raise TransientError("unreadable answer from the token endpoint")
        except AuthError as e:
            try:
                once("failure").backoff(self, e)
            except MemoryError:
                # No heap for that code: the shortest back-off, doubling, on objects made
                # at boot, so that recording the failure allocates nothing.
                self.last_error = e
                if self._fails < 8:
                    self._fails += 1
                d = _WAIT << self._fails
                self._wait = w = self._hold
                w.restart(d)
                if isinstance(e, TransientError):
                    e.retry_after = d
            if self._ready():  # a still-valid token keeps being served
                return
            raise
        self._fails = 0
        self.last_error = None

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

    def _set(self, tok, persist=None):
        # Makes tok the agent's token; persist(agent, tok), when given, writes it to flash
        # before its header is made, so a rotated refresh token is kept even if the heap
        # has no room left for the header.
        self._tok = tok
        self._wall = None
        if persist is not None:
            persist(self, tok)
        self._header()

    def _header(self):
        # Allocates the header value; the dict is updated in place.
        p = self._cfg.prefix
        a = self._tok.access
        self._hdrs[self._cfg.header] = p + a if p else a
