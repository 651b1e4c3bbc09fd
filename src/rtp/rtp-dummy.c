/* Keeps the rtp library non-empty until the first module lands. */
#include "rtp/rtp-dummy.h"
int chorus_rtp_dummy(void) { return 0; }
