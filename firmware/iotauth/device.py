# iotauth device: the device authorization grant (RFC 8628) as a source of tokens. Asks for
# a user code, hands it to a callback (the console by default) and polls the token endpoint
# no faster than the server asks. Loaded only for grant device_code, and kept (polls come
# every few seconds while the user approves). MIT licence.
from . import CredentialsError, TransientError
from . import failure  # noqa: F401 (kept loaded: every pending poll's answer is an error)
from .endpoint import ask, fetch, obj, refused
from .token import Deadline

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def show(uri, code, complete):
    # The default callback: a sketch may show these on a display or as a QR code instead.
    print("iotauth: to authorize this device, visit", uri, "and enter the code", code)
    if complete:
        print("iotauth: or open", complete)


def _pending(msg, wait):
    # A TransientError that waits exactly `wait` seconds: polling, not a failure.
    e = TransientError(msg, wait)
    e.pending = True
    return e


def _int(v, default):
    return v if type(v) is int and v > 0 else default


class Flow:
    # One authorization: the device code (a secret), the polling interval and when the
    # code runs out. token() takes one step per call.
    def __init__(self):
        self.code = None
        self.interval = 5
        self.expiry = None

    def __repr__(self):
        return "<Flow interval=%d>" % self.interval

    def token(self, agent):
        # -> Token once the user has approved. Until then raises a pending TransientError
        # (asked for a code, or polled too early), or the AuthError that ends the flow.
        if self.code is None or self.expiry.remaining() <= 0:
            self._start(agent)
        try:
            return fetch(agent, GRANT, self.code)
        except CredentialsError as e:
            # The token endpoint refused a poll: wait, slow down, or give up (RFC 8628 3.5).
            if e.error == "authorization_pending":
                raise _pending("waiting for the user to approve the device", self.interval)
            if e.error == "slow_down":
                self.interval += 5
                raise _pending("polling slowed down to every %d s" % self.interval, self.interval)
            self.code = None  # denied or expired: the next attempt starts afresh
            raise

    def _start(self, agent):
        # Asks for a code and shows it; raises pending: the first poll waits an interval.
        cfg = agent._cfg
        status, head, body = ask(cfg, cfg.device_authorization_url_parts, None)
        if status != 200:
            raise refused(status, head, body, agent, "device authorization endpoint")
        d = obj(body) or {}
        code, user, uri = d.get("device_code"), d.get("user_code"), d.get("verification_uri")
        full = d.get("verification_uri_complete")
        if type(code) is not str or type(user) is not str or type(uri) is not str:
            raise TransientError("device authorization answer lacks device_code or user_code")
        self.code = code
        self.interval = _int(d.get("interval"), 5)
        self.expiry = Deadline(_int(d.get("expires_in"), 600))
        (agent.on_code or show)(uri, user, full if type(full) is str else None)
        raise _pending("waiting for the user to approve the device", self.interval)
