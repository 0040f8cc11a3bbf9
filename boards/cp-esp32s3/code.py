# CircuitPython on an ESP32-S3: the agent makes its own adafruit_requests Session from
# wifi.radio, loading the CA file named by `ca` into its SSL context (a private CA, such as
# `make serve`'s). Copy with `make circuitpy DRIVE=/media/$USER/CIRCUITPY BOARD=cp-esp32s3
# CONFIG=auth.json`; secrets in settings.toml (tools.provision new PRESET --circuitpython).
# The state goes to the 8 KB of microcontroller.nvm while CIRCUITPY is read-only to code.
# MIT licence.
import app
import cpnet

import iotauth

pool = cpnet.wait()  # Wi-Fi from settings.toml, tried again every 30 s until it is up
cpnet.clock(pool)
app.run(iotauth.load())
