# iotauth failure: what a failed token request means (a network error, the endpoint's
# error answer), in words the caller can act on and with no secret in them, and how long
# to wait after it. Loaded after a failure only, then let go. MIT licence.
import gc

from micropython import const

from . import CredentialsError, TransientError
from . import token  # its functions looked up at each call: a test may swap them

_WAIT = const(4)  # first back-off after a transient failure, seconds; doubles per failure
_WAIT_CAP = const(600)
_REFUSED = const(60)  # first back-off after the server refused the credentials
_REFUSED_CAP = const(3600)
_RETRY_CAP = const(86400)  # a server's Retry-After is honoured up to a day


def refused(status, head, err, desc, agent, what):
    # -> the error a non-2xx answer of the token (or device authorization) endpoint means;
    # err, desc: its body's error and error_description (endpoint.py picked them out).
    # Masked before cut: a secret straddling the cut would leave its first characters.
    err = scrub(agent, err)[:64] if type(err) is str else None
    desc = scrub(agent, desc)[:200] if type(desc) is str else None
    if status == 429 or status == 408 or status >= 500:
        wait = retry_after(_header(head, "retry-after")) or 0
        return TransientError("%s answered HTTP %d" % (what, status), wait)
    if 300 <= status < 400:
        return TransientError("%s redirected (HTTP %d), not followed" % (what, status))
    msg = "%s refused (HTTP %d" % (what, status)
    if err:
        msg += " " + err
    if desc:
        msg += ": " + desc
    return CredentialsError(msg + ")", err, desc)


def _header(head, name):
    # The value of header `name` (lower case) in the dict requests made, or in the raw head,
    # which http.py turned to lower case.
    if type(head) is dict:
        for k, v in head.items():
            if k.lower() == name:
                return v
        return None
    head = bytes(head)  # a memoryview of the buffer
    i = head.find(b"\r\n" + name.encode() + b":")
    if i < 0:
        return None
    i += len(name) + 3
    try:
        return str(head[i : head.find(b"\r\n", i)], "utf-8").strip()
    except ValueError:  # UnicodeError: a header value that is not UTF-8
        return None


def scrub(agent, s):
    # Masks any secret of ours that a server echoes into an error message.
    c = agent._cfg
    t = agent._tok
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


def backoff(e, fails):
    # Seconds to wait after the fails-th failure in a row, e the last: exponential with
    # jitter, at least the server's Retry-After.
    if isinstance(e, CredentialsError):
        # At least the minute the README promises, plus up to half again: refused
        # credentials will not come right on their own soon.
        d = min(_REFUSED << (fails - 1), _REFUSED_CAP)
        d += token.rand(d // 2 + 1)
    else:
        d = min(_WAIT << (fails - 1), _WAIT_CAP)
        d = d // 2 + token.rand(d // 2 + 1)  # equal jitter: a fleet does not retry in step
    hint = getattr(e, "retry_after", 0) or 0
    if hint > d:
        d = min(hint, _RETRY_CAP)
    return d


def _days(y, m, d):
    # Days from 1970-01-01 to the given date (proleptic Gregorian).
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def retry_after(v):
    # Seconds a Retry-After header asks to wait: delta-seconds or an HTTP-date
    # ("Wed, 21 Oct 2015 07:28:00 GMT", or lower case as http.py leaves a head); None when
    # absent, unreadable or the RTC is unset.
    if not v:
        return None
    v = v.strip()
    if v.isdigit():
        return int(v)
    try:
        _, d, mon, y, hms, _ = v.split()
        h, mi, s = hms.split(":")
        t = _days(int(y), _MONTHS.index(mon.lower()) + 1, int(d)) * 86400  # any case
        t += int(h) * 3600 + int(mi) * 60 + int(s)
    except ValueError:
        return None
    now = token.unix()
    return None if now is None else max(0, t - now)


def handshake(e, cfg):
    # The words for a TLS handshake broken off (OSError e): a server that distrusts the
    # device's certificate ends it so, saying no more (mbedtls reports a closed socket).
    m = "TLS handshake failed: " + reason(e)
    if cfg is not None and cfg.cert:
        m += "; does the server trust the device's certificate?"
    return m


def reason(e):
    # OSError -> words. Negative codes are mbedtls's once connected (DNS failures are told
    # apart where they happen); timeouts differ per port.
    a = e.args
    code = a[0] if a and type(a[0]) is int else None
    if type(e).__name__.startswith("SSL"):  # CPython's ssl errors
        return "TLS error"
    if code is None:
        return "timed out" if "timed out" in str(e) else "network error (%s)" % type(e).__name__
    if code < 0:
        return "TLS error %d" % code
    if code in (11, 110, 116):  # EAGAIN, ETIMEDOUT on unix, ETIMEDOUT on lwIP
        return "timed out"
    if code == 12:  # ENOMEM: mbedtls found no heap (it allocates from the GC heap on boards)
        free = gc.mem_free() if hasattr(gc, "mem_free") else -1  # not on CPython
        return (
            "out of heap for the connection (%d bytes free; a TLS handshake needs a 16 KB "
            "block and about 25 KB in all)" % free
        )
    return "network error (errno %d)" % code
