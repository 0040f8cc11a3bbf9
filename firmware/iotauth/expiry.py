# iotauth expiry: what a server says about time besides expires_in: a JWT's exp claim and
# a Retry-After header's HTTP-date. Loaded only when a server needs it. MIT licence.
import binascii

from . import clock
from .jsonscan import scan


def jwt_exp(tok):
    # The exp claim of a JWT access token (Unix seconds), or None.
    p = tok.split(".")
    if len(p) != 3:
        return None
    s = p[1].replace("-", "+").replace("_", "/")
    s += "=" * (-len(s) % 4)
    try:
        exp = scan(binascii.a2b_base64(s), (b"exp",), [None])[0]
    except (ValueError, TypeError, IndexError):
        return None
    return exp if type(exp) is int else None


def life(tok):
    # Seconds the JWT tok still lives by its exp claim, or None (not a JWT, RTC unset).
    exp = jwt_exp(tok)
    now = clock.unix()
    if exp is None or now is None or exp <= now:
        return None
    return min(exp - now, 315360000)


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
    now = clock.unix()
    return None if now is None else max(0, t - now)
