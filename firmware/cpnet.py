# iotauth cpnet: Wi-Fi and the clock for a CircuitPython board's code.py, the twin of netup.py.
# CircuitPython joins the network named in settings.toml (CIRCUITPY_WIFI_SSID and
# CIRCUITPY_WIFI_PASSWORD) before code.py runs; this only waits for it, or joins it again
# after a drop. MIT licence.
import os
import time

import socketpool  # pyright: ignore[reportMissingImports]
import wifi  # pyright: ignore[reportMissingImports]


def wait(retry_s=30):
    # -> the socket pool, trying up() every retry_s seconds until Wi-Fi is up: code.py then
    # keeps running rather than stopping at the first failure.
    while True:
        try:
            return up()
        except OSError as e:
            print("cpnet: network not up:", e, "- again in", retry_s, "s")
            time.sleep(retry_s)


def up(timeout=15):
    # -> the socket pool, once Wi-Fi is up; OSError, having said why, to be called again.
    ssid = os.getenv("CIRCUITPY_WIFI_SSID")
    if not wifi.radio.connected:
        if not ssid:
            raise OSError("Wi-Fi: CIRCUITPY_WIFI_SSID is not set in settings.toml")
        print("cpnet: Wi-Fi", ssid)
        try:
            wifi.radio.connect(ssid, os.getenv("CIRCUITPY_WIFI_PASSWORD"), timeout=timeout)
        except ConnectionError as e:  # wrong password, no such network
            raise OSError("Wi-Fi: no connection to %s (%s)" % (ssid, e))
    print("cpnet: Wi-Fi up,", wifi.radio.ipv4_address)
    return socketpool.SocketPool(wifi.radio)


def clock(pool, server="pool.ntp.org"):
    # Sets the RTC from NTP when the adafruit_ntp library is on the drive. CircuitPython's TLS
    # does not check certificate dates, so a verified request works without it; a kept token
    # is then aged by the ticks since boot, and client_auth "jwt" waits for a true clock.
    try:
        import adafruit_ntp  # pyright: ignore[reportMissingImports]
        import rtc  # pyright: ignore[reportMissingImports]
    except ImportError:
        print("cpnet: no adafruit_ntp in lib/: the clock stays unset")
        return False
    try:
        rtc.RTC().datetime = adafruit_ntp.NTP(pool, server=server, tz_offset=0).datetime
    except (OSError, ValueError) as e:
        print("cpnet: no NTP answer:", e)
        return False
    print("cpnet: clock set,", time.localtime()[:6])
    return True
