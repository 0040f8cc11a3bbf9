# A custom esp32 firmware with iotauth frozen in: its code then costs flash, not heap.
#   cd micropython/ports/esp32 && make BOARD=ESP32_GENERIC FROZEN_MANIFEST=<path of this file>
# Paths below are relative to this file, as manifest include() and base_path are.
# ESP32_GENERIC freezes the port's manifest, which brings bundle-networking (ssl,
# requests, ntptime), as the agent and netup need.
include("$(PORT_DIR)/boards/manifest.py")
include("../../firmware/manifest.py")
module("netup.py", base_path="../../firmware")
