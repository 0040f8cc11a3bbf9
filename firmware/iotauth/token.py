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

    def __repr__(self):
        return "<Token expires_in=%s>" % self.expires_in()

    def expires_in(self):
        return None if self.expiry is None else self.expiry.remaining()

    # Good and not yet due for renewal: the hot path.
    def fresh(self):
        d = self.expiry
        return d is None or d.remaining() > self.lead

    def valid(self):
        d = self.expiry
        return d is None or d.remaining() > 0

    # Seconds until renewal is due; None when it never is.
    def due_in(self):
        d = self.expiry
        return None if d is None else d.remaining() - self.lead

    def can_refresh(self):
        d = self.rexpiry
        return self.refresh is not None and (d is None or d.remaining() > 0)

    def expire(self):
        if self.expiry is None:
            self.expiry = clock.Deadline(0)
        else:
            self.expiry.left = 0  # in place: invalidate() allocates nothing
