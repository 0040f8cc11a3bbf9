# Raspberry Pi Pico W facts and start-up: Wi-Fi from wifi.json, then NTP. MIT licence.
# The RTC boots at 2021-01-01 and counts from 1970; about 160 KB of heap is free after
# boot. The CYW43's power saving drops long-poll connections: it is turned off here.
import netup

NAME = "rpi_pico_w"
EPOCH = 1970
HEAP_KB = 160
_PM_PERFORMANCE = 0xA11140  # cyw43 "performance" power mode


def _prepare(wlan):
    try:
        wlan.config(pm=_PM_PERFORMANCE)
    except (ValueError, OSError):
        pass


def up():
    s = netup.settings()
    if s.get("country"):
        import rp2

        rp2.country(s["country"])
    netup.wifi(s["ssid"], s["password"], s.get("timeout", 15), s.get("retries", 3), _prepare)
    if s.get("ntp", True):
        netup.clock(s.get("ntp_host"))
