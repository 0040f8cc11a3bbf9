# Stand-in for a board's network module on the unix port (the virtual board): a station
# interface that connects at once, or refuses the first MP_SHIM_WIFI_REFUSE connects (an
# access point out of reach). Only what netup.py uses.
import os

STA_IF = 0
AP_IF = 1
log = []
_refuse = [int(os.getenv("MP_SHIM_WIFI_REFUSE") or 0)]


class WLAN:
    def __init__(self, iface=STA_IF):
        self._up = False
        self._ssid = None

    def active(self, on=None):
        if on is not None:
            self._up = on
        return self._up

    def config(self, **kw):
        log.append(("config", kw))

    def connect(self, ssid, password):
        log.append(("connect", ssid))
        if _refuse[0] > 0:
            _refuse[0] -= 1
            return
        self._ssid = ssid

    def disconnect(self):
        self._ssid = None

    def isconnected(self):
        return self._up and self._ssid is not None

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
