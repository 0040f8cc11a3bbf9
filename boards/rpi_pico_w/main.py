# Board entry point: bring up Wi-Fi and the clock this board's way, then run the shared
# application (firmware/app.py). MIT licence.
import board

board.up()

import app  # noqa: E402

app.run()
