// The board-faithful unix port with the agent frozen in (make port): as unix-board.
#include "../unix-board/mpconfigvariant.h"
