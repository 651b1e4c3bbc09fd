#include "core/error.h"

/* The quark string is part of the plugin ABI: plugins build the same quark
 * from the same string (see include/chorus/plugin.h). */
GQuark
chorus_error_quark(void)
{
  return g_quark_from_static_string("chorus-error-quark");
}

const ChorusErrorCode chorus_error_codes[] = {
  CHORUS_ERROR_PARSE,        CHORUS_ERROR_INVALID_REQUEST, CHORUS_ERROR_METHOD_NOT_FOUND,
  CHORUS_ERROR_INVALID_PARAMS, CHORUS_ERROR_INTERNAL,      CHORUS_ERROR_UNAUTHORIZED,
  CHORUS_ERROR_FORBIDDEN,    CHORUS_ERROR_NOT_FOUND,       CHORUS_ERROR_CONFLICT,
  CHORUS_ERROR_NEGOTIATION_FAILED, CHORUS_ERROR_ROOM_FULL, CHORUS_ERROR_RATE_LIMITED,
};
const guint chorus_error_codes_len = G_N_ELEMENTS(chorus_error_codes);

const char *
chorus_error_code_name(int code)
{
  switch (code) {
  case CHORUS_ERROR_PARSE: return "parse_error";
  case CHORUS_ERROR_INVALID_REQUEST: return "invalid_request";
  case CHORUS_ERROR_METHOD_NOT_FOUND: return "method_not_found";
  case CHORUS_ERROR_INVALID_PARAMS: return "invalid_params";
  case CHORUS_ERROR_INTERNAL: return "internal_error";
  case CHORUS_ERROR_UNAUTHORIZED: return "unauthorized";
  case CHORUS_ERROR_FORBIDDEN: return "forbidden";
  case CHORUS_ERROR_NOT_FOUND: return "not_found";
  case CHORUS_ERROR_CONFLICT: return "conflict";
  case CHORUS_ERROR_NEGOTIATION_FAILED: return "negotiation_failed";
  case CHORUS_ERROR_ROOM_FULL: return "room_full";
  case CHORUS_ERROR_RATE_LIMITED: return "rate_limited";
  default: return "unknown";
  }
}
