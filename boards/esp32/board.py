# ESP32 facts and start-up: Wi-Fi from wifi.json, then NTP. MIT licence.
# The RTC counts from 2000-01-01 (iotauth reads the epoch from time.gmtime(0)); about
# 110 KB of heap is free after boot on a plain ESP32 (more with SPIRAM).
import netup

NAME = "esp32"
EPOCH = 2000
HEAP_KB = 110


def up():
    s = netup.settings()
    netup.wifi(s["ssid"], s["password"], s.get("timeout", 15), s.get("retries", 3))
    if s.get("ntp", True):
        netup.clock(s.get("ntp_host"))
