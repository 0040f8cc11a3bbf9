# iotauth store: the tokens in flash. Two slot files written in turn, each sealed by a
# hash, so a write cut at any byte leaves the other slot (the last good state) to load.
# Never renames: holds on littlefs and FAT alike. Reading it back is restore.py's, at boot.
# MIT licence.
import binascii
import hashlib

_MAGIC = b"iotauth-state 1\n"
KEYS = ("n", "id", "a", "r", "l", "e", "re")  # one line each, in this order; "" for None


def _seal(h):
    return binascii.hexlify(h.digest()[:8])


class Store:
    def __init__(self, path):
        self.paths = (path, path + ".1")
        self.seq = 0
        self.slot = 1  # the slot holding the newest good state; the next write takes the other

    def save(self, values):
        # Writes values (for KEYS[1:]: str, int or None; secrets included) to the older
        # slot, each value straight to the file and the hash, never joined into one copy.
        # Raises OSError if flash fails.
        slot = 1 - self.slot
        h = hashlib.sha256()
        with open(self.paths[slot], "wb") as f:
            f.write(_MAGIC)
            h.update(_MAGIC)
            v = b"%d\n" % (self.seq + 1)
            f.write(v)
            h.update(v)
            for v in values:
                if v is None:
                    v = b""
                elif type(v) is int:
                    v = b"%d" % v
                else:
                    v = bytes(v, "utf-8")  # MicroPython shares the str's data: no copy
                    if v.find(b"\n") >= 0:
                        raise ValueError("newline in a token")
                f.write(v)
                f.write(b"\n")
                h.update(v)
                h.update(b"\n")
            f.write(_seal(h))
        self.seq += 1
        self.slot = slot
