# ESP32 facts and start-up: Wi-Fi from wifi.json, then NTP. MIT licence.
# The RTC counts from 2000-01-01 (iotauth reads the epoch from time.gmtime(0)); about
# 110 KB of heap is free after boot on a plain ESP32 (more with SPIRAM).
import netup

NAME = "esp32"
EPOCH = 2000
HEAP_KB = 110
RETRY_S = 30  # main.py's pause between attempts to bring the network up


def up():
    # True once Wi-Fi is up (and NTP tried); False, having said why, to be called again.
    global RETRY_S
    try:
        s = netup.settings()
        RETRY_S = s.get("retry_s", RETRY_S)
        netup.wifi(s["ssid"], s["password"], s.get("timeout", 15), s.get("retries", 3))
    except OSError as e:
        print("board: network not up:", e, "- again in", RETRY_S, "s")
        return False
    if s.get("ntp", True):
        netup.clock(s.get("ntp_host"))
    return True
