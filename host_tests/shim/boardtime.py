"""A board's ``time`` module on CPython: 2**30 ms ticks and a settable RTC epoch.

Installed as ``sys.modules["time"]`` while iotauth is imported (see conftest.py), so the
agent reads ticks that wrap like an ESP32's or a Pico W's. It reads the real clock through
``time.monotonic``/``time.time`` at call time, so freezegun drives it. ``ticks_offset``
starts the counter anywhere (just before a wrap, say); ``epoch`` 2000 makes ``time()``
count like an ESP32's; ``rtc_unset`` makes it read as a board before NTP.
"""

import time as _t

PERIOD = 1 << 30
HALF = PERIOD >> 1
Y2K = 946684800

ticks_offset = 0  # ms added to the ticks counter
wall_offset = 0  # s added to the RTC
epoch = 1970
rtc_unset = False


def reset():
    global ticks_offset, wall_offset, epoch, rtc_unset
    ticks_offset, wall_offset, epoch, rtc_unset = 0, 0, 1970, False


def advance(seconds):
    """Time passes: ticks and RTC move on together."""
    global ticks_offset, wall_offset
    ticks_offset += int(seconds * 1000)
    wall_offset += int(seconds)


def ticks_ms():
    return (int(_t.monotonic() * 1000) + ticks_offset) % PERIOD


def ticks_us():
    return (int(_t.monotonic() * 1000000) + ticks_offset * 1000) % PERIOD


def ticks_add(t, delta):
    return (t + delta) % PERIOD


def ticks_diff(a, b):
    return ((a - b + HALF) % PERIOD) - HALF


def sleep_ms(ms):
    _t.sleep(ms / 1000)


def sleep_us(us):
    _t.sleep(us / 1000000)


def sleep(s):
    _t.sleep(s)


def time():
    # A board with an unset RTC boots at its epoch (ESP32 2000-01-01; rp2 2021-01-01).
    now = 0 if rtc_unset else int(_t.time()) + wall_offset
    if rtc_unset:
        now += 86400 * 3 + int(_t.monotonic()) % 86400
        return now if epoch == 2000 else now + 1609459200
    return now - Y2K if epoch == 2000 else now


def time_ns():
    return time() * 1000000000


def gmtime(secs=None):
    if secs is None:
        secs = time()
    t = _t.gmtime(secs + (Y2K if epoch == 2000 else 0))
    return tuple(t)[:8]


localtime = gmtime


def mktime(tup):
    import calendar

    return calendar.timegm(tuple(tup[:6]) + (0, 0, 0)) - (Y2K if epoch == 2000 else 0)


# Everything else CPython's time has, so anything that imports time through this still works.
monotonic = _t.monotonic
perf_counter = _t.perf_counter
strftime = _t.strftime
struct_time = _t.struct_time
