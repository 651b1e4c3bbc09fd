/* RFC 2198 redundant audio (RED), as browsers use it over Opus: a payload
 * of block headers (4 bytes each for the redundant blocks: F=1, block PT,
 * 14-bit timestamp offset, 10-bit length; 1 byte for the last, primary
 * block: F=0, PT) followed by the blocks' data, the primary last.
 * Sans-IO, in place, no allocation. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gsize header_len;   /* bytes of block headers */
  guint n_redundant;  /* redundant blocks before the primary */
  gsize primary_offset; /* where the primary block's data starts */
  gsize primary_len;
  guint8 primary_pt;
} ChorusRtpRedInfo;

/* Walks the block headers of @payload; FALSE when they run past @len (or
 * claim more data than there is). */
gboolean chorus_rtp_red_parse(const guint8 *payload, gsize len, ChorusRtpRedInfo *info);

/* Sets the PT of every block (redundant and primary) to @pt: the inner
 * codec's payload type as the receiver negotiated it. FALSE as parse. */
gboolean chorus_rtp_red_set_block_pt(guint8 *payload, gsize len, guint8 pt);

G_END_DECLS
