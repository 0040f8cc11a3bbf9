"""CPython stand-in for ``machine``: what a board offers that cannot run here."""

import os

_ID = os.urandom(6)


def unique_id() -> bytes:
    return _ID


def reset() -> None:
    raise SystemExit("machine.reset()")


def soft_reset() -> None:
    raise SystemExit("machine.soft_reset()")
