# iotauth failure: what a refused answer means, in words the caller can act on, with no
# secret in them. Loaded after a refused answer only, then let go. MIT licence.
from . import once
from . import CredentialsError, TransientError
from .jsonscan import parse


def refused(status, head, body, agent, what="token endpoint"):
    # -> the error a non-2xx answer of the token (or device authorization) endpoint means.
    o = parse(body)
    err = desc = None
    if o is not None:
        err = o.get("error")
        desc = o.get("error_description")
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
    # The value of header `name` (lower case) in a raw head, or in the dict requests made.
    if type(head) is dict:
        for k, v in head.items():
            if k.lower() == name:
                return v
        return None
    from .http import value

    head = bytes(head)  # a memoryview of the buffer: find() needs its bytes
    return value(head, len(head), name.encode())


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
