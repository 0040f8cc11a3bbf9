# iotauth netup: Wi-Fi with a timeout and retries, and the clock from NTP, for the boards'
# main.py. What differs per board lives in boards/<board>/board.py. MIT licence.
import time

import network


def wifi(ssid, password, timeout=15, retries=3, prepare=None):
    # Connects the station interface; returns it. prepare(wlan) applies board quirks.
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if prepare is not None:
        prepare(wlan)
    for attempt in range(1, retries + 1):
        if wlan.isconnected():
            break
        print("netup: Wi-Fi", ssid, "attempt", attempt)
        wlan.connect(ssid, password)
        t0 = time.ticks_ms()
        while not wlan.isconnected() and time.ticks_diff(time.ticks_ms(), t0) < timeout * 1000:
            time.sleep_ms(200)
        if not wlan.isconnected():
            wlan.disconnect()
            time.sleep_ms(1000 * attempt)
    if not wlan.isconnected():
        raise OSError("Wi-Fi: no connection to " + ssid)
    print("netup: Wi-Fi up,", wlan.ifconfig()[0])
    return wlan


def clock(host=None, retries=3):
    # Sets the RTC from NTP: TLS certificate dates and persisted tokens need a true clock.
    import ntptime

    if host:
        ntptime.host = host
    for attempt in range(retries):
        try:
            ntptime.settime()
            print("netup: clock set,", time.gmtime()[:6])
            return True
        except OSError:
            time.sleep_ms(1000 * (attempt + 1))
    # mbedtls checks certificate dates on both boards: with the clock at its power-on value
    # every verified request fails until NTP answers (persisted tokens still serve).
    print("netup: no NTP answer: verified TLS requests will fail until the clock is set")
    return False


def settings(path="wifi.json"):
    import json

    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        raise OSError("%s missing: deploy with WIFI=<file>" % path)
    except ValueError:
        raise OSError("%s is not valid JSON" % path)
