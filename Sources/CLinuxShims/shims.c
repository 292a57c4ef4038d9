// Intentionally empty: CLinuxShims is system headers and static inline wrappers (see include/CLinuxShims.h).
#include "CLinuxShims.h"
