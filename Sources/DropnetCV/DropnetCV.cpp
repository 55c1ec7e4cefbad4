#include "DropnetCV.h"
