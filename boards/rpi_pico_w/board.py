# Raspberry Pi Pico W facts and start-up: Wi-Fi from wifi.json, then NTP. MIT licence.
# The RTC boots at 2021-01-01 and counts from 1970; about 160 KB of heap is free after
# boot. The CYW43's power saving drops long-poll connections: it is turned off here.
import netup

NAME = "rpi_pico_w"
EPOCH = 1970
HEAP_KB = 160
RETRY_S = 30  # main.py's pause between attempts to bring the network up
_PM_PERFORMANCE = 0xA11140  # cyw43 "performance" power mode


def _prepare(wlan):
    try:
        wlan.config(pm=_PM_PERFORMANCE)
    except (ValueError, OSError):
        pass


def up():
    # True once Wi-Fi is up (and NTP tried); False, having said why, to be called again.
    global RETRY_S
    try:
        s = netup.settings()
        RETRY_S = s.get("retry_s", RETRY_S)
        if s.get("country"):
            import rp2

            rp2.country(s["country"])
        netup.wifi(s["ssid"], s["password"], s.get("timeout", 15), s.get("retries", 3), _prepare)
    except OSError as e:
        print("board: network not up:", e, "- again in", RETRY_S, "s")
        return False
    if s.get("ntp", True):
        netup.clock(s.get("ntp_host"))
    return True
