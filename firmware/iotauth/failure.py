# iotauth failure: what a refused answer or a network error means, in words the caller can
# act on, with no secret in them. Loaded after a failure only, then let go. MIT licence.
from micropython import const

from . import clock, once
from . import CredentialsError, TransientError
from .jsonscan import scan

_WAIT = const(4)  # first back-off after a transient failure, seconds; doubles per failure
_WAIT_CAP = const(600)
_REFUSED = const(60)  # first back-off after the server refused the credentials
_REFUSED_CAP = const(3600)
_RETRY_CAP = const(86400)  # a server's Retry-After is honoured up to a day

_KEYS = (b"error", b"error_description")


def refused(status, head, body, agent, what="token endpoint"):
    # -> the error a non-2xx answer of the token (or device authorization) endpoint means.
    try:
        err, desc = scan(body, _KEYS, [None, None])  # picked in place, as a token is
    except (ValueError, TypeError, IndexError):  # not a JSON object: an HTML page, say
        err = desc = None
    # Masked before cut: a secret straddling the cut would leave its first characters.
    err = scrub(agent, err)[:64] if type(err) is str else None
    desc = scrub(agent, desc)[:200] if type(desc) is str else None
    if status == 429 or status == 408 or status >= 500:
        wait = once("expiry").retry_after(_header(head, "retry-after")) or 0
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
        import gc

        free = gc.mem_free() if hasattr(gc, "mem_free") else -1  # not on CPython
        return (
            "out of heap for the connection (%d bytes free; a TLS handshake needs a 16 KB "
            "block and about 25 KB in all)" % free
        )
    return "network error (errno %d)" % code


def backoff(agent, e):
    # Records failure e and sets how long the agent waits before asking again: exponential
    # with jitter, at least the server's Retry-After; exactly the interval while a device
    # authorization is pending.
    agent.last_error = e
    if getattr(e, "pending", False):
        agent._wait = clock.Deadline(e.retry_after)
        return
    if agent._fails < 16:
        agent._fails += 1
    if isinstance(e, CredentialsError):
        # At least the minute the README promises, plus up to half again: refused
        # credentials will not come right on their own soon.
        d = min(_REFUSED << (agent._fails - 1), _REFUSED_CAP)
        d += clock.rand(d // 2 + 1)
    else:
        d = min(_WAIT << (agent._fails - 1), _WAIT_CAP)
        d = d // 2 + clock.rand(d // 2 + 1)  # equal jitter: a fleet does not retry in step
    hint = getattr(e, "retry_after", 0) or 0
    if hint > d:
        d = min(hint, _RETRY_CAP)
    agent._wait = clock.Deadline(d)
    if isinstance(e, TransientError):
        e.retry_after = d
