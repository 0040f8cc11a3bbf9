# The board-faithful unix port with iotauth frozen in, as boards/<board>/manifest.py does it.
include("../unix-board/manifest.py")
include("../../firmware/manifest.py")
