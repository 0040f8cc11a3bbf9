"""Imports pieces of the firmware package on CPython for the host tools (config checks,
request building), with the one MicroPython module they touch stood in for."""

from __future__ import annotations

import sys
import types
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"


def _micropython_stub() -> None:
    if "micropython" not in sys.modules:
        m = types.ModuleType("micropython")
        m.const = lambda x: x  # type: ignore[attr-defined]
        sys.modules["micropython"] = m


def firmware_config():
    """The firmware's ``iotauth.config`` module, with ConfigError beside it."""
    _micropython_stub()
    if str(FIRMWARE) not in sys.path:
        sys.path.insert(0, str(FIRMWARE))
    import iotauth.config as config
    from iotauth import ConfigError

    config.ConfigError = ConfigError
    return config


def _board_time() -> types.ModuleType:
    """The host's time with the ticks a board's has, which iotauth.token reads."""
    import time

    t = types.ModuleType("time")
    t.__dict__.update(time.__dict__)
    t.ticks_ms = lambda: time.monotonic_ns() // 1_000_000  # type: ignore[attr-defined]
    t.ticks_diff = lambda a, b: a - b  # type: ignore[attr-defined]
    t.ticks_add = lambda a, b: a + b  # type: ignore[attr-defined]
    return t


def firmware_grant():
    """The firmware's ``iotauth.grant`` module: the token requests, as the agent composes them
    (a signed assertion dated by the host's clock)."""
    firmware_config()
    import iotauth.grant as grant

    if "iotauth.token" not in sys.modules:
        real = sys.modules["time"]
        sys.modules["time"] = _board_time()
        try:
            import iotauth.token  # noqa: F401
        finally:
            sys.modules["time"] = real
    return grant


def firmware_presets() -> dict:
    """The platforms' presets as the firmware's ``iotauth.fields`` holds them."""
    firmware_config()
    import iotauth.fields as fields

    return fields.PRESETS
