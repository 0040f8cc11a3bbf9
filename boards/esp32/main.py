# Board entry point: bring up Wi-Fi and the clock this board's way, then run the shared
# application (firmware/app.py). Until Wi-Fi is up it keeps trying, rather than dropping to
# the REPL with nothing running. MIT licence.
import time

import board

while not board.up():
    time.sleep(board.RETRY_S)

import app  # noqa: E402

app.run()
