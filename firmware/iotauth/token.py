# iotauth token: an access token, its refresh token and when each runs out; answers
# "still fresh?" without allocating. MIT licence.
from . import clock

_MAX_LIFE = 315360000  # ten years: longer is treated as that


class Token:
    # life/rlife: seconds the access/refresh token lives from now, None when unknown
    # (then it is good until the API answers 401, or the server rejects the refresh).
    # lead: seconds before expiry at which renewal is due.
    def __init__(self, access, refresh=None, life=None, rlife=None, lead=0):
        self.access = access
        self.refresh = refresh
        self.life = life
        self.expiry = None if life is None else clock.Deadline(life)
        self.rexpiry = None if rlife is None else clock.Deadline(rlife)
        self.lead = lead

    def expires_in(self):
        # Seconds left, None when it never expires.
        d = self.expiry
        return None if d is None else d.remaining()

    def fresh(self):
        # Good and not yet due for renewal: the hot path.
        d = self.expiry
        return d is None or d.remaining() > self.lead

    def valid(self):
        d = self.expiry
        return d is None or d.remaining() > 0

    def can_refresh(self):
        # Worth sending unless known to have run out: where a long pause lost the ticks,
        # the server decides (a rotated token is still the freshest one held).
        d = self.rexpiry
        return self.refresh is not None and (d is None or d.remaining() > 0 or d.lost)


def life(v):
    # expires_in as the platforms send it: number or numeric string; None if unusable.
    if type(v) is str:
        try:
            v = float(v)  # "3600", "3600.0"
        except ValueError:
            return None
    if type(v) is float:
        if not v > 0:  # NaN too
            return None
        v = _MAX_LIFE if v >= _MAX_LIFE else int(v)
    if type(v) is not int or v <= 0:
        return None
    return v if v < _MAX_LIFE else _MAX_LIFE


def lead(life, margin):
    # Renew margin seconds ahead (at most half the lifetime), plus a random spread so a
    # fleet that booted together does not renew together.
    return min(margin, life // 2) + clock.rand(min(life // 10, 900) + 1)
