/* JWT (HS256) tokens: verification of claims {sub, room, role, admin, exp}
 * and minting (`chorus token`). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *identity; /* sub; may be NULL for admin tokens */
  char *room;     /* a room name or "*"; NULL = "*" for admins */
  char *role;     /* NULL = the kind's default */
  gboolean admin;
  gint64 exp;     /* seconds since the epoch; 0 = none given */
} ChorusAuthClaims;

void chorus_auth_claims_free(ChorusAuthClaims *claims);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusAuthClaims, chorus_auth_claims_free)

/* Verifies signature (HS256 only; "none" and other algs refused), expiry
 * (with @leeway_s) and claim types. Errors are -32001 with a message saying
 * which check failed ("token expired 42 s ago", "bad signature", ...). A
 * token without exp is refused. */
ChorusAuthClaims *chorus_auth_verify(const char *secret, const char *token, gint64 now_s,
                                     guint leeway_s, GError **error);

/* TRUE when @claims allow joining @room (room claim equals it or is "*"). */
gboolean chorus_auth_claims_allow_room(const ChorusAuthClaims *claims, const char *room);

/* Mints a token. @room NULL = "*". (transfer full) */
char *chorus_auth_mint(const char *secret, const char *identity, const char *room,
                       const char *role, gboolean admin, gint64 exp_s, GError **error);

G_END_DECLS
