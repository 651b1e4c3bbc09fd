#include "rtp/red.h"

gboolean
chorus_rtp_red_parse(const guint8 *payload, gsize len, ChorusRtpRedInfo *info)
{
  g_return_val_if_fail(payload != NULL || len == 0, FALSE);
  gsize pos = 0, data = 0;
  guint n = 0;
  for (;;) {
    if (pos >= len)
      return FALSE;
    if (!(payload[pos] & 0x80))
      break; /* the primary's 1-byte header */
    if (pos + 4 > len)
      return FALSE;
    data += (gsize)(((payload[pos + 2] & 0x03) << 8) | payload[pos + 3]);
    pos += 4;
    n++;
  }
  gsize header_len = pos + 1;
  if (header_len + data > len)
    return FALSE;
  if (info) {
    info->header_len = header_len;
    info->n_redundant = n;
    info->primary_offset = header_len + data;
    info->primary_len = len - header_len - data;
    info->primary_pt = payload[pos] & 0x7f;
  }
  return TRUE;
}

gboolean
chorus_rtp_red_set_block_pt(guint8 *payload, gsize len, guint8 pt)
{
  ChorusRtpRedInfo info;
  if (!chorus_rtp_red_parse(payload, len, &info))
    return FALSE;
  for (guint i = 0; i < info.n_redundant; i++)
    payload[4 * i] = (guint8)(0x80 | (pt & 0x7f));
  payload[4 * info.n_redundant] = pt & 0x7f;
  return TRUE;
}
