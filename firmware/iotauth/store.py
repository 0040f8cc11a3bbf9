# iotauth store: the tokens in flash, written and read back. Two slots written in turn, each
# sealed by a hash, so a write cut at any byte leaves the other slot (the last good state)
# to load: two files, never renamed (holds on littlefs and FAT alike); or, where code cannot
# write the filesystem (CircuitPython without a boot.py remount), the two halves of
# microcontroller.nvm; with neither, RAM only, said once. MIT licence.
import binascii
import hashlib
import os

from micropython import const

from . import use
from .token import Token, lead

_MAGIC = b"iotauth-state 1\n"
KEYS = ("n", "id", "a", "r", "l", "e", "re")  # one line each, in this order; "" for None
_INTS = ("n", "l", "e", "re")
_FILE_MAX = const(8192)

# A store is a list [path, seq, slot, nvm] that its owner (the agent) holds: seq numbers the
# last state written, slot (0 or 1) is the one holding it, so the next write takes the
# other; nvm is None for files, microcontroller.nvm, or False for RAM only. A list, not a
# class, so that this code leaves the heap between writes.


def new(path):
    try:
        import storage  # pyright: ignore[reportMissingImports] (CircuitPython only)
    except ImportError:
        return [path, 0, 1, None]  # MicroPython: files
    return [path, 0, 1, use("circuitpy").where(storage)]


def _open(st, slot):
    if st[3] is None:
        return open(st[0] if slot == 0 else st[0] + ".1", "wb")
    return use("circuitpy").Nvm(st[3], slot)


def _raw(st, slot):
    # A slot's bytes as written, or None.
    nvm = st[3]
    if nvm is None:
        path = st[0] if slot == 0 else st[0] + ".1"
        try:
            n = os.stat(path)[6]
            if n > _FILE_MAX:
                return None
            with open(path, "rb") as f:
                return f.read(n)  # exactly its size: no 8 KB block asked of a fresh heap
        except OSError:
            return None
    return use("circuitpy").read(nvm, slot)


def _seal(h):
    return binascii.hexlify(h.digest()[:8])


def save(st, values):
    # Writes values (for KEYS[1:]: str, int or None; secrets included) to the older slot,
    # each value straight to the file and the hash, never joined into one copy. Raises
    # OSError if flash fails, ValueError for a value no line can hold.
    if st[3] is False:
        return  # RAM only: said at boot
    slot = 1 - st[2]
    h = hashlib.sha256()
    with _open(st, slot) as f:
        f.write(_MAGIC)
        h.update(_MAGIC)
        v = b"%d\n" % (st[1] + 1)
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
    st[1] += 1
    st[2] = slot


def load(st):
    # The newest intact state as a dict of KEYS, or None; the next write then goes to the
    # other slot.
    best = None
    if st[3] is False:
        return None
    for i in range(2):
        d = _read(_raw(st, i))
        if d is not None and (best is None or d["n"] > best["n"]):
            best = d
            st[1] = d["n"]
            st[2] = i
    return best


def _read(raw):
    if raw is None:
        return None
    lines = raw.split(b"\n")
    if len(lines) != len(KEYS) + 2 or raw[: len(_MAGIC)] != _MAGIC:
        return None
    h = hashlib.sha256()
    h.update(raw[: len(raw) - len(lines[-1])])
    if _seal(h) != lines[-1]:
        return None
    d = {}
    for i in range(len(KEYS)):
        v = lines[i + 1]
        k = KEYS[i]
        if not v:
            d[k] = None
        elif k in _INTS:
            try:
                d[k] = int(v)
            except ValueError:
                return None
        else:
            try:
                d[k] = str(v, "utf-8")
            except ValueError:  # UnicodeError: a sealed slot from another program
                return None
    return d if type(d["n"]) is int else None


def restore(st, cfg):
    # -> (Token, wall) from the newest intact state if it belongs to cfg's credentials, or
    # None. wall: the persisted expiries in Unix seconds (access, refresh), for the agent to
    # judge once the RTC is set; None when none was known.
    try:
        d = load(st)
    except (OSError, ValueError, KeyError, TypeError):
        d = None
    if d is None or d.get("id") != cfg.id:
        return None
    a, r, life = d.get("a"), d.get("r"), d.get("l")
    if type(a) is not str or (r is not None and type(r) is not str):
        return None
    if type(life) is not int or life <= 0:
        life = None
    tok = Token(a, r, None, None, 0 if life is None else lead(life, cfg.margin))
    tok.life = life
    e = d.get("e")
    if e is None:  # saved before NTP: a JWT still says when it ends
        e = use("jsonscan").jwt_exp(a)
    re = d.get("re")
    return tok, None if e is None and re is None else (e, re)
