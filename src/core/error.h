/* Chorus error domain: codes are the JSON-RPC error codes of PROTOCOL.md, so a
 * GError raised anywhere on the control plane maps 1:1 onto a reply. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CHORUS_ERROR (chorus_error_quark())
GQuark chorus_error_quark(void);

typedef enum {
  CHORUS_ERROR_PARSE = -32700,
  CHORUS_ERROR_INVALID_REQUEST = -32600,
  CHORUS_ERROR_METHOD_NOT_FOUND = -32601,
  CHORUS_ERROR_INVALID_PARAMS = -32602,
  CHORUS_ERROR_INTERNAL = -32603,
  CHORUS_ERROR_UNAUTHORIZED = -32001,
  CHORUS_ERROR_FORBIDDEN = -32002,
  CHORUS_ERROR_NOT_FOUND = -32004,
  CHORUS_ERROR_CONFLICT = -32009,
  CHORUS_ERROR_NEGOTIATION_FAILED = -32010,
  CHORUS_ERROR_ROOM_FULL = -32013,
  CHORUS_ERROR_RATE_LIMITED = -32029,
} ChorusErrorCode;

/* All codes above, for metrics ("errors by code"). */
extern const ChorusErrorCode chorus_error_codes[];
extern const guint chorus_error_codes_len;

/* Short machine name of a code ("invalid_params"), or "unknown". */
const char *chorus_error_code_name(int code);

G_END_DECLS
