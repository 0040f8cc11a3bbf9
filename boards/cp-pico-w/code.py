# CircuitPython on a Raspberry Pi Pico W: the token kept by iotauth, the API called through an
# adafruit_requests Session that trusts the board's built-in root certificates (a cloud with a
# public CA). Copy with `make circuitpy DRIVE=/media/$USER/CIRCUITPY BOARD=cp-pico-w`;
# secrets in settings.toml (tools.provision new PRESET --circuitpython). MIT licence.
# The Pico W's CIRCUITPY is read-only to code: the agent keeps its state in the 4 KB of
# microcontroller.nvm, unless a boot.py remounts the drive for it.
import ssl

import adafruit_requests  # pyright: ignore[reportMissingImports]
import app
import cpnet

import iotauth

pool = cpnet.wait()  # Wi-Fi from settings.toml, tried again every 30 s until it is up
cpnet.clock(pool)
requests = adafruit_requests.Session(pool, ssl.create_default_context())  # pyright: ignore[reportAttributeAccessIssue]
app.run(iotauth.load(session=requests))
