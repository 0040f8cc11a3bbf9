# Stand-in for the rp2 module on the unix port: what board.py uses.
_country = None


def country(cc=None):
    global _country
    if cc is not None:
        _country = cc
    return _country
