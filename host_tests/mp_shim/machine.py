# Stand-in for a board's machine module on the unix port (the virtual board). reset() ends
# the process with the code tools/vboard.py reads as a hard reset: it boots the board again,
# main.py and all, as a board does. Only what mpremote and the examples use.
import sys

HARD_RESET = 77  # tools/vboard.py: _HARD_RESET


def reset():
    sys.exit(HARD_RESET)


def soft_reset():
    sys.exit(0)


def unique_id():
    return b"vboard"
