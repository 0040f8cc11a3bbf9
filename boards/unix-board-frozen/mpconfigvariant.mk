# The board-faithful unix port with the agent frozen in: as unix-board, plus the package.
include $(VARIANT_DIR)/../unix-board/mpconfigvariant.mk
