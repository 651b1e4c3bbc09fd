#include "webrtc/srtp.h"

#include <limits.h>
#include <srtp2/srtp.h>
#include <string.h>

#include "core/error.h"
#include "webrtc/srtp-gcm.h"

#define REPLAY_WINDOW_PACKETS 1024

struct _ChorusSrtp {
  srtp_t outbound; /* local keys, ssrc_any_outbound */
  srtp_t inbound;  /* remote keys, ssrc_any_inbound */
  ChorusSrtpGcmSender *gcm_sender;     /* GCM: RTP protect without libsrtp (see srtp-gcm.h) */
  ChorusSrtpGcmReceiver *gcm_receiver; /* GCM: RTP unprotect without libsrtp */
  ChorusSrtpProfile profile;
  guint rtp_overhead;
  guint rtcp_overhead;
  guint64 counts[CHORUS_SRTP_OP_N_][CHORUS_SRTP_RESULT_N_];
};

const char *
chorus_srtp_profile_to_string(ChorusSrtpProfile profile)
{
  switch (profile) {
  case CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80:
    return "SRTP_AES128_CM_SHA1_80";
  case CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM:
    return "SRTP_AEAD_AES_128_GCM";
  case CHORUS_SRTP_PROFILE_NONE:
  default:
    return NULL;
  }
}

gboolean
chorus_srtp_profile_get_key_lengths(ChorusSrtpProfile profile, guint *key_len, guint *salt_len)
{
  guint k, s;
  switch (profile) {
  case CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80:
    k = 16;
    s = 14;
    break;
  case CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM:
    k = 16;
    s = 12;
    break;
  case CHORUS_SRTP_PROFILE_NONE:
  default:
    return FALSE;
  }
  if (key_len != NULL)
    *key_len = k;
  if (salt_len != NULL)
    *salt_len = s;
  return TRUE;
}

void
chorus_srtp_keys_clear(ChorusSrtpKeys *keys)
{
  if (keys != NULL)
    explicit_bzero(keys, sizeof *keys);
}

const char *
chorus_srtp_result_to_string(ChorusSrtpResult result)
{
  switch (result) {
  case CHORUS_SRTP_OK:
    return "ok";
  case CHORUS_SRTP_AUTH_FAIL:
    return "auth_fail";
  case CHORUS_SRTP_REPLAY:
    return "replay";
  case CHORUS_SRTP_MALFORMED:
    return "malformed";
  case CHORUS_SRTP_NO_SPACE:
    return "no_space";
  case CHORUS_SRTP_ERROR:
    return "error";
  case CHORUS_SRTP_RESULT_N_:
  default:
    return "unknown";
  }
}

/* srtp_init() registers ciphers and runs their self-tests: once per process. */
static srtp_err_status_t
global_init(void)
{
  static gsize done = 0;
  static srtp_err_status_t status = srtp_err_status_fail;
  if (g_once_init_enter(&done)) {
    status = srtp_init();
    g_once_init_leave(&done, 1);
  }
  return status;
}

static gboolean
create_session(srtp_t *session, ChorusSrtpProfile profile, const guint8 *key, guint key_len,
               const guint8 *salt, guint salt_len, srtp_ssrc_type_t ssrc_type, GError **error)
{
  srtp_policy_t policy;
  memset(&policy, 0, sizeof policy);
  if (profile == CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
  }
  /* libsrtp takes the master key and salt as one buffer. */
  guint8 master[CHORUS_SRTP_MAX_KEY_LEN + CHORUS_SRTP_MAX_SALT_LEN];
  memcpy(master, key, key_len);
  memcpy(master + key_len, salt, salt_len);
  policy.key = master;
  policy.ssrc.type = ssrc_type;
  policy.window_size = REPLAY_WINDOW_PACKETS;
  policy.allow_repeat_tx = 1;
  policy.next = NULL;

  srtp_err_status_t status = srtp_create(session, &policy);
  explicit_bzero(master, sizeof master);
  if (status != srtp_err_status_ok) {
    *session = NULL;
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                "srtp_create (%s) failed: libsrtp status %d",
                ssrc_type == ssrc_any_inbound ? "inbound" : "outbound", (int)status);
    return FALSE;
  }
  return TRUE;
}

ChorusSrtp *
chorus_srtp_new(const ChorusSrtpKeys *keys, GError **error)
{
  g_return_val_if_fail(keys != NULL, NULL);

  guint key_len = 0, salt_len = 0;
  if (!chorus_srtp_profile_get_key_lengths(keys->profile, &key_len, &salt_len)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "unsupported SRTP profile 0x%04x",
                (guint)keys->profile);
    return NULL;
  }
  if (keys->key_len != key_len || keys->salt_len != salt_len) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "%s needs a %u-byte key and a %u-byte salt (got %u and %u)",
                chorus_srtp_profile_to_string(keys->profile), key_len, salt_len, keys->key_len,
                keys->salt_len);
    return NULL;
  }
  srtp_err_status_t status = global_init();
  if (status != srtp_err_status_ok) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "srtp_init failed: libsrtp status %d",
                (int)status);
    return NULL;
  }

  g_autoptr(ChorusSrtp) srtp = g_new0(ChorusSrtp, 1);
  srtp->profile = keys->profile;
  guint tag_len = keys->profile == CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM ? 16 : 10;
  srtp->rtp_overhead = tag_len;
  srtp->rtcp_overhead = tag_len + 4; /* E flag + SRTCP index */

  if (!create_session(&srtp->outbound, keys->profile, keys->local_key, key_len, keys->local_salt,
                      salt_len, ssrc_any_outbound, error) ||
      !create_session(&srtp->inbound, keys->profile, keys->remote_key, key_len, keys->remote_salt,
                      salt_len, ssrc_any_inbound, error))
    return NULL;
  if (keys->profile == CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM && !g_getenv("CHORUS_SRTP_LIBSRTP_ONLY")) {
    srtp->gcm_sender = chorus_srtp_gcm_sender_new(keys->local_key, keys->local_salt);
    srtp->gcm_receiver = chorus_srtp_gcm_receiver_new(keys->remote_key, keys->remote_salt);
    if (srtp->gcm_sender == NULL || srtp->gcm_receiver == NULL) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "OpenSSL AES-GCM setup failed");
      return NULL;
    }
  }
  return g_steal_pointer(&srtp);
}

void
chorus_srtp_free(ChorusSrtp *srtp)
{
  if (srtp == NULL)
    return;
  if (srtp->outbound != NULL)
    srtp_dealloc(srtp->outbound);
  if (srtp->inbound != NULL)
    srtp_dealloc(srtp->inbound);
  chorus_srtp_gcm_sender_free(srtp->gcm_sender);
  chorus_srtp_gcm_receiver_free(srtp->gcm_receiver);
  g_free(srtp);
}

ChorusSrtpProfile
chorus_srtp_get_profile(ChorusSrtp *srtp)
{
  g_return_val_if_fail(srtp != NULL, CHORUS_SRTP_PROFILE_NONE);
  return srtp->profile;
}

guint
chorus_srtp_get_rtp_overhead(ChorusSrtp *srtp)
{
  g_return_val_if_fail(srtp != NULL, 0);
  return srtp->rtp_overhead;
}

guint
chorus_srtp_get_rtcp_overhead(ChorusSrtp *srtp)
{
  g_return_val_if_fail(srtp != NULL, 0);
  return srtp->rtcp_overhead;
}

guint64
chorus_srtp_get_count(ChorusSrtp *srtp, ChorusSrtpOp op, ChorusSrtpResult result)
{
  g_return_val_if_fail(srtp != NULL, 0);
  g_return_val_if_fail(op < CHORUS_SRTP_OP_N_ && result < CHORUS_SRTP_RESULT_N_, 0);
  return srtp->counts[op][result];
}

static ChorusSrtpResult
map_status(srtp_err_status_t status)
{
  switch (status) {
  case srtp_err_status_ok:
    return CHORUS_SRTP_OK;
  case srtp_err_status_auth_fail:
    return CHORUS_SRTP_AUTH_FAIL;
  case srtp_err_status_replay_fail:
  case srtp_err_status_replay_old:
    return CHORUS_SRTP_REPLAY;
  case srtp_err_status_bad_param:
  case srtp_err_status_parse_err:
  /* SRTCP whose E flag says "not encrypted" although the profile encrypts. */
  case srtp_err_status_cant_check:
    return CHORUS_SRTP_MALFORMED;
  default:
    return CHORUS_SRTP_ERROR;
  }
}

static inline ChorusSrtpResult
count(ChorusSrtp *srtp, ChorusSrtpOp op, ChorusSrtpResult result)
{
  srtp->counts[op][result]++;
  return result;
}

/* Length of the RTP header (fixed part, CSRCs, extension), or 0 when the
 * packet is not version 2 or the header runs past @len. libsrtp trusts
 * these fields, so they are checked here first. */
static gsize
rtp_header_len(const guint8 *buf, gsize len)
{
  if (len < 12 || (buf[0] >> 6) != 2)
    return 0;
  gsize hdr = 12 + 4 * (gsize)(buf[0] & 0x0f);
  if (buf[0] & 0x10) {
    if (hdr + 4 > len)
      return 0;
    hdr += 4 + 4 * (gsize)((buf[hdr + 2] << 8) | buf[hdr + 3]);
  }
  return hdr <= len ? hdr : 0;
}

static gboolean
rtcp_header_ok(const guint8 *buf, gsize len)
{
  return len >= 8 && (buf[0] >> 6) == 2;
}

ChorusSrtpResult
chorus_srtp_protect_rtp(ChorusSrtp *srtp, guint8 *buf, gsize *len, gsize cap)
{
  g_return_val_if_fail(srtp != NULL && buf != NULL && len != NULL, CHORUS_SRTP_ERROR);
  const ChorusSrtpOp op = CHORUS_SRTP_OP_PROTECT_RTP;
  gsize hdr = rtp_header_len(buf, *len);
  if (hdr == 0 || *len > INT_MAX - CHORUS_SRTP_MAX_RTCP_OVERHEAD)
    return count(srtp, op, CHORUS_SRTP_MALFORMED);
  if (cap < *len || cap - *len < srtp->rtp_overhead)
    return count(srtp, op, CHORUS_SRTP_NO_SPACE);
  if (srtp->gcm_sender != NULL) {
    if (chorus_srtp_gcm_sender_protect(srtp->gcm_sender, buf, *len, hdr)) {
      *len += srtp->rtp_overhead;
      return count(srtp, op, CHORUS_SRTP_OK);
    }
    /* Full SSRC table: libsrtp takes SSRCs never protected here. */
    guint32 ssrc = ((guint32)buf[8] << 24) | ((guint32)buf[9] << 16) | ((guint32)buf[10] << 8) | buf[11];
    if (chorus_srtp_gcm_sender_has_ssrc(srtp->gcm_sender, ssrc))
      return count(srtp, op, CHORUS_SRTP_ERROR);
  }
  int n = (int)*len;
  ChorusSrtpResult r = map_status(srtp_protect(srtp->outbound, buf, &n));
  if (r == CHORUS_SRTP_OK)
    *len = (gsize)n;
  return count(srtp, op, r);
}

ChorusSrtpResult
chorus_srtp_unprotect_rtp(ChorusSrtp *srtp, guint8 *buf, gsize *len)
{
  g_return_val_if_fail(srtp != NULL && buf != NULL && len != NULL, CHORUS_SRTP_ERROR);
  const ChorusSrtpOp op = CHORUS_SRTP_OP_UNPROTECT_RTP;
  gsize hdr = rtp_header_len(buf, *len);
  if (hdr == 0 || *len - hdr < srtp->rtp_overhead || *len > INT_MAX)
    return count(srtp, op, CHORUS_SRTP_MALFORMED);
  if (srtp->gcm_receiver != NULL) {
    switch (chorus_srtp_gcm_receiver_unprotect(srtp->gcm_receiver, buf, *len, hdr)) {
    case CHORUS_SRTP_GCM_OK:
      *len -= srtp->rtp_overhead;
      return count(srtp, op, CHORUS_SRTP_OK);
    case CHORUS_SRTP_GCM_AUTH_FAIL:
      return count(srtp, op, CHORUS_SRTP_AUTH_FAIL);
    case CHORUS_SRTP_GCM_REPLAY:
      return count(srtp, op, CHORUS_SRTP_REPLAY);
    case CHORUS_SRTP_GCM_NOT_MINE:
      break; /* a full table: libsrtp keeps the SSRCs it never saw */
    }
  }
  int n = (int)*len;
  ChorusSrtpResult r = map_status(srtp_unprotect(srtp->inbound, buf, &n));
  if (r == CHORUS_SRTP_OK)
    *len = (gsize)n;
  return count(srtp, op, r);
}

ChorusSrtpResult
chorus_srtp_protect_rtcp(ChorusSrtp *srtp, guint8 *buf, gsize *len, gsize cap)
{
  g_return_val_if_fail(srtp != NULL && buf != NULL && len != NULL, CHORUS_SRTP_ERROR);
  const ChorusSrtpOp op = CHORUS_SRTP_OP_PROTECT_RTCP;
  if (!rtcp_header_ok(buf, *len) || *len > INT_MAX - CHORUS_SRTP_MAX_RTCP_OVERHEAD)
    return count(srtp, op, CHORUS_SRTP_MALFORMED);
  if (cap < *len || cap - *len < srtp->rtcp_overhead)
    return count(srtp, op, CHORUS_SRTP_NO_SPACE);
  if (srtp->gcm_sender != NULL) {
    if (!chorus_srtp_gcm_sender_protect_rtcp(srtp->gcm_sender, buf, *len))
      return count(srtp, op, CHORUS_SRTP_ERROR);
    *len += srtp->rtcp_overhead;
    return count(srtp, op, CHORUS_SRTP_OK);
  }
  int n = (int)*len;
  ChorusSrtpResult r = map_status(srtp_protect_rtcp(srtp->outbound, buf, &n));
  if (r == CHORUS_SRTP_OK)
    *len = (gsize)n;
  return count(srtp, op, r);
}

ChorusSrtpResult
chorus_srtp_unprotect_rtcp(ChorusSrtp *srtp, guint8 *buf, gsize *len)
{
  g_return_val_if_fail(srtp != NULL && buf != NULL && len != NULL, CHORUS_SRTP_ERROR);
  const ChorusSrtpOp op = CHORUS_SRTP_OP_UNPROTECT_RTCP;
  if (!rtcp_header_ok(buf, *len) || *len - 8 < srtp->rtcp_overhead || *len > INT_MAX)
    return count(srtp, op, CHORUS_SRTP_MALFORMED);
  int n = (int)*len;
  ChorusSrtpResult r = map_status(srtp_unprotect_rtcp(srtp->inbound, buf, &n));
  if (r == CHORUS_SRTP_OK)
    *len = (gsize)n;
  return count(srtp, op, r);
}
