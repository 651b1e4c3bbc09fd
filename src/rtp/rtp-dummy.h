#pragma once
int chorus_rtp_dummy(void);
