/* Internals shared by the sdp*.c files; not part of the API. */
#pragma once

#include "webrtc/sdp.h"

G_BEGIN_DECLS

/* Sets a CHORUS_ERROR_NEGOTIATION_FAILED error. */
void sdp_set_error(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* "m-line 1 (video)" for messages. (transfer full) */
char *sdp_media_label(const ChorusSdpMedia *media, guint index);

/* RFC 8839 ice-char strings of min..max characters. */
gboolean sdp_ice_chars_valid(const char *s, gsize min_len, gsize max_len);
/* RFC 4566 token characters, 1..max characters. */
gboolean sdp_token_valid(const char *s, gsize max_len);
/* Printable ASCII without spaces, 1..max characters (msid ids, cname). */
gboolean sdp_visible_valid(const char *s, gsize max_len);
/* RFC 8851 rid-id: alphanumerics, '-' and '_', 1..16 characters. */
gboolean sdp_rid_valid(const char *s);

/* "AB:CD:..." (32 bytes, any case) -> bytes. */
gboolean sdp_fingerprint_parse(const char *text, guint8 out[32]);
/* bytes -> "AB:CD:..." (95 characters + NUL). */
void sdp_fingerprint_format(const guint8 in[32], char out[96]);

/* Strict unsigned decimal: digits only, no sign, value <= max. */
gboolean sdp_parse_uint(const char *s, guint64 max, guint64 *out);

/* Splits on spaces/tabs, dropping empty tokens. (transfer full) */
char **sdp_split_ws(const char *s);

ChorusSdpMediaResult *sdp_media_result_new(guint mline, const char *mid, ChorusSdpKind kind);
ChorusSdpNegotiation *sdp_negotiation_new(void);

/* The media SSRCs of @media in the order a receiver should use (the SIM
 * group when there is one) and their RTX SSRCs from FID groups. */
void sdp_media_collect_ssrcs(const ChorusSdpMedia *media, GArray *ssrcs, GArray *rtx_ssrcs);

/* Validates Chorus's own transport parameters (CHORUS_ERROR_INTERNAL). */
gboolean sdp_local_params_validate(const ChorusSdpLocalParams *local, guint8 fingerprint[32],
                                   GError **error);
/* Copies the transport of @local into @media (setup, candidates apart). */
void sdp_media_set_local_transport(ChorusSdpMedia *media, const ChorusSdpLocalParams *local,
                                   const guint8 fingerprint[32]);

/* The remote transport of a negotiation, taken from m-line @index of
 * @remote; @chorus_offered tells how to read a=setup. */
gboolean sdp_transport_fill(ChorusSdpTransport *transport, const ChorusSdpSession *remote,
                            guint index, gboolean chorus_offered, GError **error);

G_END_DECLS
