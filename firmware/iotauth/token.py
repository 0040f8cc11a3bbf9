# iotauth token: the access token, its refresh token and their deadlines, judged by the
# wall clock once the RTC is set (NTP) and by ticks_ms while it is not. The one place that
# reads time. MIT licence.
import os
import time

from micropython import const

_MS = const(1000)
_MAX_LIFE = const(315360000)  # ten years: longer is treated as that
# 2025-01-01 in Unix seconds: an RTC that reads earlier has not been set (no NTP yet).
_SET = 1735689600  # not a const: past a 32-bit port's small ints
_Y2K = const(946684800)  # ESP32's time.time() counts from 2000-01-01
_off = None  # what time.time() lacks of Unix seconds, read once from the port's epoch


if not hasattr(time, "ticks_ms"):  # CircuitPython on a board: its time in the port's shape
    from . import use

    time = use("circuitpy").Board(time)


def unix():
    # Unix seconds, or None while the RTC is unset. Allocates on a port whose time() is a
    # float (unix) or a long int (rp2: past 2**30), so the hot path reads it only after a
    # pause (Deadline).
    global _off
    if _off is None:
        _off = _Y2K if time.gmtime(0)[0] == 2000 else 0
    t = int(time.time()) + _off
    return t if t >= _SET else None


def rand(n):
    # A random int in [0, n), from the hardware RNG where the board has one.
    if n <= 1:
        return 0
    b = os.urandom(3)
    return (b[0] << 16 | b[1] << 8 | b[2]) % n


class Deadline:
    # A moment `left` seconds after ticks `base`, and at Unix second `end` once the RTC is
    # set. A board's ticks_ms wraps every 2**30 ms (12.4 days), so after a pause (a weekly
    # wake, a long sleep) ticks cannot tell how long it was; the wall clock can. Looks at
    # most two seconds apart (the hot path) count ticks and allocate nothing; a look after a
    # longer pause asks the wall clock. While the RTC is unset, a pause of over half a
    # ticks period (6.2 days) is lost: `lost` is set and the deadline counts as passed.
    def __init__(self, secs):
        self.base = time.ticks_ms()
        self.left = secs
        self.lost = False
        now = unix()
        self.end = None if now is None else now + secs

    def restart(self, secs):
        # Runs again, `secs` from now, on ticks alone: allocates nothing (restart(0): the
        # API said 401; a short back-off in a full heap).
        self.base = time.ticks_ms()
        self.left = secs
        self.lost = False
        self.end = None

    def remaining(self):
        t = time.ticks_ms()
        e = time.ticks_diff(t, self.base)
        if 0 <= e < 2 * _MS:  # looked at a moment ago: base trails ticks by under a second
            if e >= _MS:
                self.left -= 1
                self.base = time.ticks_add(self.base, _MS)
            return self.left
        now = unix()  # a pause: ticks may have wrapped during it
        if now is not None and self.end is not None:
            self.base = t
            self.left = self.end - now
            return self.left
        if e < 0:
            # Unobserved for over half a ticks period with no wall clock: the elapsed time
            # is lost; the safe side is an early renewal.
            self.base = t
            self.left = 0
            self.lost = True
        else:
            s = e // _MS
            self.left -= s
            self.base = time.ticks_add(self.base, s * _MS)
        if now is not None:  # the RTC was set since this deadline began: anchor it
            self.end = now + self.left
        return self.left


class Token:
    # life/rlife: seconds the access/refresh token lives from now, None when unknown
    # (then it is good until the API answers 401, or the server rejects the refresh).
    # lead: seconds before expiry at which renewal is due.
    def __init__(self, access, refresh=None, life=None, rlife=None, lead=0):
        self.access = access
        self.refresh = refresh
        self.life = life
        self.expiry = None if life is None else Deadline(life)
        self.rexpiry = None if rlife is None else Deadline(rlife)
        self.lead = lead

    def expires_in(self):
        # Seconds left, None when it never expires.
        d = self.expiry
        return None if d is None else d.remaining()

    def fresh(self):
        # Good and not yet due for renewal: the hot path.
        d = self.expiry
        return d is None or d.remaining() > self.lead

    def valid(self):
        d = self.expiry
        return d is None or d.remaining() > 0

    def can_refresh(self):
        # Worth sending unless known to have run out: where a long pause lost the ticks,
        # the server decides (a rotated token is still the freshest one held).
        d = self.rexpiry
        return self.refresh is not None and (d is None or d.remaining() > 0 or d.lost)


def life(v):
    # expires_in as the platforms send it: number or numeric string; None if unusable.
    if type(v) is str:
        try:
            v = float(v)  # "3600", "3600.0"
        except ValueError:
            return None
    if type(v) is float:
        if not v > 0:  # NaN too
            return None
        v = _MAX_LIFE if v >= _MAX_LIFE else int(v)
    if type(v) is not int or v <= 0:
        return None
    return v if v < _MAX_LIFE else _MAX_LIFE


def lead(life, margin):
    # Renew margin seconds ahead (at most half the lifetime), plus a random spread so a
    # fleet that booted together does not renew together.
    return min(margin, life // 2) + rand(min(life // 10, 900) + 1)
