# iotauth store: the tokens in flash. Two slot files written in turn, each sealed by a
# hash, so a write cut at any byte leaves the other slot (the last good state) to load.
# Never renames: holds on littlefs and FAT alike. MIT licence.
import binascii
import hashlib
import json


def _seal(data):
    return binascii.hexlify(hashlib.sha256(data).digest()[:8])


class Store:
    def __init__(self, path):
        self.paths = (path, path + ".1")
        self.seq = 0
        self.slot = 1  # the slot holding the newest good state; the next write takes the other

    def __repr__(self):
        return "<Store %s>" % self.paths[0]

    def load(self):
        # The newest intact state (a dict), or None.
        best = None
        for i in range(2):
            d = _read(self.paths[i])
            if d is not None and (best is None or d["n"] > best["n"]):
                best = d
                self.slot = i
                self.seq = d["n"]
        return best

    def save(self, d):
        # Writes d (secrets included) to the older slot. Raises OSError if flash fails.
        d["n"] = self.seq + 1
        data = json.dumps(d).encode()
        slot = 1 - self.slot
        with open(self.paths[slot], "wb") as f:
            f.write(data)
            f.write(b"\n")
            f.write(_seal(data))
        self.seq += 1
        self.slot = slot


def _read(path):
    try:
        with open(path, "rb") as f:
            raw = f.read(8192)
    except OSError:
        return None
    data, _, seal = raw.rpartition(b"\n")
    if not data or seal != _seal(data):
        return None
    try:
        d = json.loads(data)
    except ValueError:
        return None
    if type(d) is not dict or type(d.get("n")) is not int:
        return None
    return d
