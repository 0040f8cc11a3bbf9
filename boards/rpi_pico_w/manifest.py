# A custom rpi_pico_w firmware with iotauth frozen in: its code then costs flash, not heap.
#   cd micropython/ports/rp2 && make BOARD=RPI_PICO_W FROZEN_MANIFEST=<path of this file>
# Paths below are relative to this file, as manifest include() and base_path are.
# The board's own manifest, not the port's: only it brings bundle-networking (ssl,
# requests, ntptime), which the agent and netup need.
include("$(BOARD_DIR)/manifest.py")
include("../../firmware/manifest.py")
module("netup.py", base_path="../../firmware")
