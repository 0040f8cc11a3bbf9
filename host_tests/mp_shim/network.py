# Stand-in for a board's network module on the unix port (the virtual board): a station
# interface that connects at once. Only what netup.py uses.
STA_IF = 0
AP_IF = 1
log = []


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
        self._ssid = ssid

    def disconnect(self):
        self._ssid = None

    def isconnected(self):
        return self._up and self._ssid is not None

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
