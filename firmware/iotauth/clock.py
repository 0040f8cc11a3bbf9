# iotauth clock: the one place that reads time. Deadlines on ticks_ms that outlast the
# ticks period, and the wall clock for tokens carried across a reboot. MIT licence.
import os
import time

from micropython import const

_MS = const(1000)
# 2025-01-01 in Unix seconds: an RTC that reads earlier has not been set (no NTP yet).
_SET = 1735689600
_Y2K = 946684800  # ESP32's time.time() counts from 2000-01-01


def unix():
    # Unix seconds, or None while the RTC is unset. Allocates: rare paths only.
    t = int(time.time())
    if time.gmtime(0)[0] == 2000:
        t += _Y2K
    return t if t >= _SET else None


def rand(n):
    # A random int in [0, n), from the hardware RNG where the board has one.
    if n <= 1:
        return 0
    b = os.urandom(3)
    return (b[0] << 16 | b[1] << 8 | b[2]) % n


class Deadline:
    # A moment `left` seconds after ticks `base`. Each look moves `base` forward by the
    # whole seconds elapsed, so a year-long lifetime holds on a 2**30 ms ticks counter as
    # long as it is looked at within every 2**29 ms (6.2 days; poll() asks far more often).
    # Looks allocate nothing.
    def __init__(self, secs):
        self.base = time.ticks_ms()
        self.left = secs

    def remaining(self):
        e = time.ticks_diff(time.ticks_ms(), self.base)
        if e < 0:
            # Unobserved for over half a ticks period: the elapsed time is lost, so
            # count the deadline as passed (the safe side is an early renewal).
            self.base = time.ticks_ms()
            self.left = 0
        elif e >= _MS:
            s = e // _MS
            self.left -= s
            self.base = time.ticks_add(self.base, s * _MS)
        return self.left
