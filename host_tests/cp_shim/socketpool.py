# CircuitPython's socketpool on its unix port, which has MicroPython's socket module instead
# (make circuitpython): the shape adafruit_requests and adafruit_connection_manager use.
import socket as _s


class Socket:
    def __init__(self, af, kind):
        self._s = _s.socket(af, kind)

    def connect(self, addr):  # socketpool's (host, port); this socket module wants a sockaddr
        self._s.connect(_s.getaddrinfo(addr[0], addr[1])[0][-1])

    def settimeout(self, t):
        self._s.settimeout(t)

    def send(self, b):
        return self._s.send(b)

    def recv_into(self, buf, n=0):
        data = self._s.recv(n or len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self):
        self._s.close()


class SocketPool:
    AF_INET = _s.AF_INET
    SOCK_STREAM = _s.SOCK_STREAM
    SOL_SOCKET = 1
    SO_REUSEADDR = 2

    def __init__(self, radio=None):
        self.radio = radio

    def getaddrinfo(self, host, port, family=0, kind=0, proto=0, flags=0):
        return [(_s.AF_INET, _s.SOCK_STREAM, 0, "", (host, port))]  # as socketpool's

    def socket(self, af=_s.AF_INET, kind=_s.SOCK_STREAM, proto=0):
        return Socket(af, kind)
