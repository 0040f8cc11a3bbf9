# A custom rpi_pico_w firmware with iotauth frozen in: its code then costs flash, not heap.
#   cd micropython/ports/rp2 && make BOARD=RPI_PICO_W FROZEN_MANIFEST=<path of this file>
# Paths below are relative to this file, as manifest include() and base_path are.
include("$(PORT_DIR)/boards/manifest.py")
include("../../firmware/manifest.py")
module("netup.py", base_path="../../firmware")
