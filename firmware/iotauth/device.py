# iotauth device: the device authorization grant (RFC 8628). Asks for a user code, hands it
# to a callback (the console by default) and polls the token endpoint no faster than the
# server asks. Loaded only for grant device_code. MIT licence.
from . import clock, failure  # failure stays while polling: every pending poll needs it
from . import CredentialsError, TransientError
from .grant import post
from .jsonscan import scan
from .renew import fetch

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_KEYS = (
    b"device_code",
    b"user_code",
    b"verification_uri",
    b"verification_uri_complete",
    b"interval",
    b"expires_in",
)


def show(uri, code, complete):
    # The default callback: a sketch may show these on a display or as a QR code instead.
    print("iotauth: to authorize this device, visit", uri, "and enter the code", code)
    if complete:
        print("iotauth: or open", complete)


class Flow:
    # One pending authorization: the device code (a secret), the polling interval and when
    # the code runs out.
    def __init__(self, code, interval, life):
        self.code = code
        self.interval = interval
        self.expiry = clock.Deadline(life)

    def __repr__(self):
        return "<Flow interval=%d>" % self.interval


def _pending(msg, wait):
    # A TransientError that waits exactly `wait` seconds: polling, not a failure.
    e = TransientError(msg, wait)
    e.pending = True
    return e


def _int(v, default):
    return v if type(v) is int and v > 0 else default


def step(agent):
    # One step per call: ask for a code (then raise pending), or poll once for the token.
    f = agent._flow
    if f is None or f.expiry.remaining() <= 0:
        cfg = agent._cfg
        status, head, body = post(agent, cfg.device_authorization_url_parts, None)
        if status != 200:
            raise failure.refused(status, head, body, agent, "device authorization endpoint")
        try:
            code, user, uri, full, every, life = scan(body, _KEYS, [None] * 6)
        except (ValueError, TypeError, IndexError):
            code = user = uri = full = every = life = None
        if type(code) is not str or type(user) is not str or type(uri) is not str:
            raise TransientError("device authorization answer lacks device_code or user_code")
        agent._flow = f = Flow(code, _int(every, 5), _int(life, 600))
        (agent.on_code or show)(uri, user, full if type(full) is str else None)
        raise _pending("waiting for the user to approve the device", f.interval)
    try:
        tok = fetch(agent, GRANT, f.code)
    except CredentialsError as e:
        # The token endpoint refused a poll: wait, slow down, or give up (RFC 8628 3.5).
        if e.error == "authorization_pending":
            raise _pending("waiting for the user to approve the device", f.interval)
        if e.error == "slow_down":
            f.interval += 5
            raise _pending("polling slowed down to every %d s" % f.interval, f.interval)
        agent._flow = None  # denied or expired: the next attempt starts afresh
        raise
    agent._flow = None
    return tok
