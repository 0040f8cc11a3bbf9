# iotauth device: the device authorization grant (RFC 8628). Asks for a user code, hands it
# to a callback (the console by default) and polls the token endpoint no faster than the
# server asks. Loaded only for grant device_code. MIT licence.
from . import clock, jsonscan
from .errors import CredentialsError, TransientError

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_KEYS = (
    b"device_code",
    b"user_code",
    b"verification_uri",
    b"verification_uri_complete",
    b"expires_in",
    b"interval",
    b"error",
    b"error_description",
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


def pending(msg, wait):
    # A TransientError that waits exactly `wait` seconds: polling, not a failure.
    e = TransientError(msg, wait)
    e.pending = True
    return e


def start(status, view, callback, scrub):
    # Reads the device authorization response; returns a Flow after showing the code.
    # scrub(str) masks any secret of ours the server echoes back.
    try:
        o = jsonscan.scan(view, _KEYS, [None] * len(_KEYS))
    except (ValueError, TypeError, IndexError):
        raise TransientError("device authorization answer is not a JSON object")
    if status != 200:
        if status == 429 or status >= 500:
            raise TransientError("device authorization endpoint answered HTTP %d" % status)
        err = scrub(o[6][:64]) if type(o[6]) is str else None
        desc = scrub(o[7][:200]) if type(o[7]) is str else None
        raise CredentialsError(
            "device authorization refused (HTTP %d %s)" % (status, err), err, desc
        )
    code, user, uri = o[0], o[1], o[2]
    if type(code) is not str or type(user) is not str or type(uri) is not str:
        raise TransientError("device authorization answer lacks device_code or user_code")
    life = o[4] if type(o[4]) is int and o[4] > 0 else 600
    interval = o[5] if type(o[5]) is int and o[5] > 0 else 5
    callback(uri, user, o[3] if type(o[3]) is str else None)
    return Flow(code, interval, life)


def polled(flow, e):
    # The token endpoint refused a poll: wait, slow down, or give up (RFC 8628 3.5).
    if e.error == "authorization_pending":
        return pending("waiting for the user to approve the device", flow.interval)
    if e.error == "slow_down":
        flow.interval += 5
        return pending("polling slowed down to every %d s" % flow.interval, flow.interval)
    return None
