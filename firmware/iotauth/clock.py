# iotauth clock: the one place that reads time. Deadlines judged by the wall clock once the
# RTC is set (NTP), by ticks_ms while it is not; the wall clock in Unix seconds. MIT licence.
import os
import time

from micropython import const

_MS = const(1000)
# 2025-01-01 in Unix seconds: an RTC that reads earlier has not been set (no NTP yet).
_SET = 1735689600
_Y2K = 946684800  # ESP32's time.time() counts from 2000-01-01
_off = None  # what time.time() lacks of Unix seconds, read once from the port's epoch


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
