# iotauth restore: at boot, the newest intact state slot read back into the agent's token,
# its expiry judged once the RTC is set. Runs once; then leaves the heap. MIT licence.
import os

from . import clock, once
from .store import _MAGIC, KEYS, _seal
from .token import Token, lead


def load(store):
    # The newest intact state of store as a dict of KEYS, or None; the store's next write
    # then goes to the other slot.
    best = None
    for i in range(2):
        d = _read(store.paths[i])
        if d is not None and (best is None or d["n"] > best["n"]):
            best = d
            store.slot = i
            store.seq = d["n"]
    return best


def _read(path):
    try:
        n = os.stat(path)[6]
        if n > 8192:
            return None
        with open(path, "rb") as f:
            raw = f.read(n)  # exactly its size: no 8 KB block asked of a fresh heap
    except OSError:
        return None
    lines = raw.split(b"\n")
    if len(lines) != len(KEYS) + 2 or raw[: len(_MAGIC)] != _MAGIC:
        return None
    import hashlib

    h = hashlib.sha256()
    h.update(raw[: len(raw) - len(lines[-1])])
    if _seal(h) != lines[-1]:
        return None
    d = {}
    for i in range(len(KEYS)):
        v = lines[i + 1]
        if not v:
            d[KEYS[i]] = None
        elif KEYS[i] in ("n", "l", "e", "re"):
            try:
                d[KEYS[i]] = int(v)
            except ValueError:
                return None
        else:
            d[KEYS[i]] = str(v, "utf-8")
    return d if type(d["n"]) is int else None


def restore(agent):
    # Serves the persisted token if it belongs to this config; its expiry is judged by the
    # wall clock once the RTC is set.
    try:
        d = load(agent._store)
    except (OSError, ValueError, KeyError, TypeError):
        d = None
    if d is None or d.get("id") != agent._cfg.id:
        return
    a, r, life = d.get("a"), d.get("r"), d.get("l")
    if type(a) is not str or (r is not None and type(r) is not str):
        return
    if type(life) is not int or life <= 0:
        life = None
    tok = Token(a, r, None, None, 0 if life is None else lead(life, agent._cfg.margin))
    tok.life = life
    agent._set(tok)
    e = d.get("e")
    if e is None:  # saved before NTP: a JWT still says when it ends
        e = once("expiry").jwt_exp(a)
    if e is not None or d.get("re") is not None:
        agent._wall = (e, d.get("re"))
        resolve(agent)


def resolve(agent):
    # Judges persisted expiries by the wall clock, once the RTC is set (NTP).
    now = clock.unix()
    if now is None:
        return
    e, re = agent._wall
    agent._wall = None
    t = agent._tok
    if type(e) is int:
        t.expiry = clock.Deadline(e - now)
    if type(re) is int:
        if re > now:
            t.rexpiry = clock.Deadline(re - now)
        else:
            t.refresh = None
