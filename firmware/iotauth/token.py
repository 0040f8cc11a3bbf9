# iotauth token: an access token, its refresh token and when each runs out; answers
# "still fresh?" without allocating. MIT licence.
from . import clock


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
        d = self.rexpiry
        return self.refresh is not None and (d is None or d.remaining() > 0)
