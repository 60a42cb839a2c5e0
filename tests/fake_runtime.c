/* fake_runtime.c — see fake_runtime.h. */
#include "fake_runtime.h"
