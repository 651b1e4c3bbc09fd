/* Helpers shared by the RTCP test suites. */
#pragma once

#include <check.h>

#include "rtp/rtcp.h"

/* The one packet @buf holds, through the compound iterator (which must
 * accept exactly @len bytes). */
static inline ChorusRtcpPacket
single(const guint8 *buf, gsize len)
{
  ChorusRtcpIter it;
  ChorusRtcpPacket p = {0};
  gboolean bad = FALSE;
  ck_assert(chorus_rtcp_iter_init(&it, buf, len));
  ck_assert(chorus_rtcp_iter_next(&it, &p, &bad));
  ck_assert(!bad);
  ck_assert_uint_eq(p.len, len);
  return p;
}

/* A view with an exact length, as a parser would get it from the iterator,
 * but without the iterator's checks: parsers must not trust the header. */
/* A view of @buf as one packet without any check (for parsers' own
 * bounds checks). */
static inline ChorusRtcpPacket
raw(const guint8 *buf, gsize len)
{
  ChorusRtcpPacket p = {.data = buf, .len = len};
  if (len >= 2) {
    p.type = buf[1];
    p.count = buf[0] & 0x1f;
  }
  return p;
}
