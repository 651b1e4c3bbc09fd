#include "webrtc/srtp-gcm.h"

#include <openssl/evp.h>
#include <string.h>

#define GCM_TAG_LEN 16
#define SALT_LEN 12
/* SSRCs one PeerConnection sends: every track's media + RTX SSRC. */
#define MAX_STREAMS 64

typedef struct {
  guint32 ssrc;
  guint32 roc;      /* rollover counter of the highest index sent */
  guint16 last_seq; /* highest sequence number sent */
} Stream;

struct _ChorusSrtpGcmSender {
  EVP_CIPHER_CTX *ctx; /* keyed once with the session key */
  guint8 session_salt[SALT_LEN];
  EVP_CIPHER_CTX *rtcp_ctx; /* SRTCP: its own session key and salt */
  guint8 rtcp_salt[SALT_LEN];
  guint32 rtcp_index;       /* last SRTCP index sent (31 bits) */
  Stream streams[MAX_STREAMS];
  guint n_streams;
};

/* RFC 3711 4.3.3 AES-CM key derivation (key derivation rate 0), with a
 * 12-byte master salt placed in the first 12 bytes of the 14-byte salt
 * field, as libsrtp does for the AEAD profiles: x = salt XOR (label at
 * byte 7), keystream = AES(master, x || counter). */
static gboolean
derive(const guint8 *master_key, const guint8 *master_salt, guint8 label, guint8 *out, gsize n)
{
  guint8 iv[16] = { 0 };
  memcpy(iv, master_salt, SALT_LEN);
  iv[7] ^= label;
  guint8 zeros[32] = { 0 };
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int outl = 0;
  gboolean ok = ctx != NULL && n <= sizeof(zeros) &&
                EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, master_key, iv) == 1 &&
                EVP_EncryptUpdate(ctx, out, &outl, zeros, (int)n) == 1 && outl == (int)n;
  EVP_CIPHER_CTX_free(ctx);
  OPENSSL_cleanse(iv, sizeof(iv));
  return ok;
}

ChorusSrtpGcmSender *
chorus_srtp_gcm_sender_new(const guint8 *master_key, const guint8 *master_salt)
{
  ChorusSrtpGcmSender *s = g_new0(ChorusSrtpGcmSender, 1);
  guint8 key[16], rtcp_key[16];
  s->ctx = EVP_CIPHER_CTX_new();
  s->rtcp_ctx = EVP_CIPHER_CTX_new();
  /* RFC 3711 4.3.2 labels: 0/2 SRTP key/salt, 3/5 SRTCP key/salt. */
  gboolean ok = s->ctx != NULL && s->rtcp_ctx != NULL &&
                derive(master_key, master_salt, 0x00, key, sizeof(key)) &&
                derive(master_key, master_salt, 0x02, s->session_salt, SALT_LEN) &&
                derive(master_key, master_salt, 0x03, rtcp_key, sizeof(rtcp_key)) &&
                derive(master_key, master_salt, 0x05, s->rtcp_salt, SALT_LEN) &&
                EVP_EncryptInit_ex(s->ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) == 1 &&
                EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
                EVP_EncryptInit_ex(s->ctx, NULL, NULL, key, NULL) == 1 &&
                EVP_EncryptInit_ex(s->rtcp_ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) == 1 &&
                EVP_CIPHER_CTX_ctrl(s->rtcp_ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
                EVP_EncryptInit_ex(s->rtcp_ctx, NULL, NULL, rtcp_key, NULL) == 1;
  OPENSSL_cleanse(key, sizeof(key));
  OPENSSL_cleanse(rtcp_key, sizeof(rtcp_key));
  if (!ok) {
    chorus_srtp_gcm_sender_free(s);
    return NULL;
  }
  return s;
}

void
chorus_srtp_gcm_sender_free(ChorusSrtpGcmSender *s)
{
  if (s == NULL)
    return;
  EVP_CIPHER_CTX_free(s->ctx);
  EVP_CIPHER_CTX_free(s->rtcp_ctx);
  OPENSSL_cleanse(s->session_salt, sizeof(s->session_salt));
  OPENSSL_cleanse(s->rtcp_salt, sizeof(s->rtcp_salt));
  g_free(s);
}

static Stream *
find_stream(ChorusSrtpGcmSender *s, guint32 ssrc)
{
  for (guint i = 0; i < s->n_streams; i++)
    if (s->streams[i].ssrc == ssrc)
      return &s->streams[i];
  return NULL;
}

gboolean
chorus_srtp_gcm_sender_has_ssrc(ChorusSrtpGcmSender *s, guint32 ssrc)
{
  return find_stream(s, ssrc) != NULL;
}

/* The rollover counter of @seq given the highest seq so far @s_l and its
 * counter @roc (RFC 3711 3.3.1 / appendix A; libsrtp's sender and receiver
 * make the same estimate): a seq far below the highest has wrapped
 * forward, one far above is from before the wrap. */
static guint32
estimate_roc(guint32 roc, guint16 s_l, guint16 seq)
{
  if (s_l < 0x8000) {
    if (seq > s_l && seq - s_l > 0x8000 && roc > 0)
      roc--;
  } else if ((guint32)s_l - 0x8000 > seq) {
    roc++;
  }
  return roc;
}

gboolean
chorus_srtp_gcm_sender_protect(ChorusSrtpGcmSender *s, guint8 *buf, gsize len, gsize hdr_len)
{
  guint32 ssrc = ((guint32)buf[8] << 24) | ((guint32)buf[9] << 16) | ((guint32)buf[10] << 8) | buf[11];
  guint16 seq = (guint16)((buf[2] << 8) | buf[3]);
  Stream *st = find_stream(s, ssrc);
  guint32 roc;
  if (st == NULL) {
    if (s->n_streams == MAX_STREAMS)
      return FALSE;
    st = &s->streams[s->n_streams++];
    *st = (Stream){ .ssrc = ssrc, .roc = 0, .last_seq = seq };
    roc = 0;
  } else {
    roc = estimate_roc(st->roc, st->last_seq, seq);
    if (roc > st->roc || (roc == st->roc && (guint16)(seq - st->last_seq) < 0x8000)) {
      st->roc = roc;
      st->last_seq = seq;
    }
  }
  /* RFC 7714 8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt. */
  guint8 iv[12] = { 0, 0,
                    (guint8)(ssrc >> 24), (guint8)(ssrc >> 16), (guint8)(ssrc >> 8), (guint8)ssrc,
                    (guint8)(roc >> 24),  (guint8)(roc >> 16),  (guint8)(roc >> 8),  (guint8)roc,
                    (guint8)(seq >> 8),   (guint8)seq };
  for (int i = 0; i < 12; i++)
    iv[i] ^= s->session_salt[i];
  int outl = 0;
  guint8 *payload = buf + hdr_len;
  int payload_len = (int)(len - hdr_len);
  /* Re-initialising with only a new IV keeps the key schedule: no
   * allocation per packet. The header is the AAD; the payload is
   * encrypted in place. */
  if (EVP_EncryptInit_ex(s->ctx, NULL, NULL, NULL, iv) != 1 ||
      EVP_EncryptUpdate(s->ctx, NULL, &outl, buf, (int)hdr_len) != 1 ||
      (payload_len > 0 && EVP_EncryptUpdate(s->ctx, payload, &outl, payload, payload_len) != 1) ||
      EVP_EncryptFinal_ex(s->ctx, payload + payload_len, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, payload + payload_len) != 1)
    return FALSE;
  return TRUE;
}

gboolean
chorus_srtp_gcm_sender_protect_rtcp(ChorusSrtpGcmSender *s, guint8 *buf, gsize len)
{
  /* RFC 7714 9.1: the first 8 octets (header + sender SSRC) and the
   * E-flag/index word are the AAD, the rest is encrypted; the packet ends
   * with the tag and then the E-flag/index word. */
  guint32 index = s->rtcp_index = (s->rtcp_index + 1) & 0x7fffffff;
  guint8 trailer[4] = { (guint8)(0x80 | (index >> 24)), (guint8)(index >> 16), (guint8)(index >> 8),
                        (guint8)index };
  guint8 iv[12] = { 0, 0, buf[4], buf[5], buf[6], buf[7], 0, 0,
                    (guint8)((index >> 24) & 0x7f), (guint8)(index >> 16), (guint8)(index >> 8),
                    (guint8)index };
  for (int i = 0; i < 12; i++)
    iv[i] ^= s->rtcp_salt[i];
  guint8 *body = buf + 8;
  int body_len = (int)(len - 8);
  int outl = 0;
  if (EVP_EncryptInit_ex(s->rtcp_ctx, NULL, NULL, NULL, iv) != 1 ||
      EVP_EncryptUpdate(s->rtcp_ctx, NULL, &outl, buf, 8) != 1 ||
      EVP_EncryptUpdate(s->rtcp_ctx, NULL, &outl, trailer, 4) != 1 ||
      (body_len > 0 && EVP_EncryptUpdate(s->rtcp_ctx, body, &outl, body, body_len) != 1) ||
      EVP_EncryptFinal_ex(s->rtcp_ctx, body + body_len, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(s->rtcp_ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, body + body_len) != 1)
    return FALSE;
  memcpy(body + body_len + GCM_TAG_LEN, trailer, 4);
  return TRUE;
}

/* ---- receive ---------------------------------------------------------------- */

#define REPLAY_WINDOW 1024 /* as ChorusSrtp's libsrtp sessions */

typedef struct {
  guint32 ssrc;
  guint32 roc;          /* of the highest index */
  guint16 s_l;          /* highest seq */
  guint64 highest;      /* highest index (roc << 16 | seq) */
  guint64 seen[REPLAY_WINDOW / 64]; /* bit (index % REPLAY_WINDOW): received */
} RxStream;

struct _ChorusSrtpGcmReceiver {
  EVP_CIPHER_CTX *ctx;
  guint8 session_salt[SALT_LEN];
  RxStream streams[MAX_STREAMS];
  guint n_streams;
};

ChorusSrtpGcmReceiver *
chorus_srtp_gcm_receiver_new(const guint8 *master_key, const guint8 *master_salt)
{
  ChorusSrtpGcmReceiver *r = g_new0(ChorusSrtpGcmReceiver, 1);
  guint8 key[16];
  r->ctx = EVP_CIPHER_CTX_new();
  gboolean ok = r->ctx != NULL && derive(master_key, master_salt, 0x00, key, sizeof(key)) &&
                derive(master_key, master_salt, 0x02, r->session_salt, SALT_LEN) &&
                EVP_DecryptInit_ex(r->ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) == 1 &&
                EVP_CIPHER_CTX_ctrl(r->ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
                EVP_DecryptInit_ex(r->ctx, NULL, NULL, key, NULL) == 1;
  OPENSSL_cleanse(key, sizeof(key));
  if (!ok) {
    chorus_srtp_gcm_receiver_free(r);
    return NULL;
  }
  return r;
}

void
chorus_srtp_gcm_receiver_free(ChorusSrtpGcmReceiver *r)
{
  if (r == NULL)
    return;
  EVP_CIPHER_CTX_free(r->ctx);
  OPENSSL_cleanse(r->session_salt, sizeof(r->session_salt));
  g_free(r);
}

static inline gboolean
seen_get(const RxStream *st, guint64 index)
{
  guint b = (guint)(index % REPLAY_WINDOW);
  return (st->seen[b / 64] >> (b % 64)) & 1;
}

static inline void
seen_set(RxStream *st, guint64 index, gboolean on)
{
  guint b = (guint)(index % REPLAY_WINDOW);
  if (on)
    st->seen[b / 64] |= G_GUINT64_CONSTANT(1) << (b % 64);
  else
    st->seen[b / 64] &= ~(G_GUINT64_CONSTANT(1) << (b % 64));
}

ChorusSrtpGcmResult
chorus_srtp_gcm_receiver_unprotect(ChorusSrtpGcmReceiver *r, guint8 *buf, gsize len, gsize hdr_len)
{
  guint32 ssrc = ((guint32)buf[8] << 24) | ((guint32)buf[9] << 16) | ((guint32)buf[10] << 8) | buf[11];
  guint16 seq = (guint16)((buf[2] << 8) | buf[3]);
  RxStream *st = NULL;
  for (guint i = 0; i < r->n_streams && st == NULL; i++)
    if (r->streams[i].ssrc == ssrc)
      st = &r->streams[i];
  RxStream fresh;
  gboolean is_new = st == NULL;
  if (is_new) {
    if (r->n_streams == MAX_STREAMS)
      return CHORUS_SRTP_GCM_NOT_MINE;
    /* Made for real only once a packet of it authenticates: forged
     * packets must not fill the table. */
    fresh = (RxStream){ .ssrc = ssrc, .roc = 0, .s_l = seq, .highest = seq };
    st = &fresh;
  }
  guint32 roc = is_new ? 0 : estimate_roc(st->roc, st->s_l, seq);
  guint64 index = ((guint64)roc << 16) | seq;
  if (!is_new && index <= st->highest) {
    if (st->highest - index >= REPLAY_WINDOW || seen_get(st, index))
      return CHORUS_SRTP_GCM_REPLAY;
  }
  guint8 iv[12] = { 0, 0,
                    (guint8)(ssrc >> 24), (guint8)(ssrc >> 16), (guint8)(ssrc >> 8), (guint8)ssrc,
                    (guint8)(roc >> 24),  (guint8)(roc >> 16),  (guint8)(roc >> 8),  (guint8)roc,
                    (guint8)(seq >> 8),   (guint8)seq };
  for (int i = 0; i < 12; i++)
    iv[i] ^= r->session_salt[i];
  guint8 *payload = buf + hdr_len;
  int payload_len = (int)(len - hdr_len - GCM_TAG_LEN);
  int outl = 0;
  /* Decrypt into place; on a bad tag the caller drops the packet (its
   * buffer content is unspecified then, as with libsrtp). */
  if (EVP_DecryptInit_ex(r->ctx, NULL, NULL, NULL, iv) != 1 ||
      EVP_DecryptUpdate(r->ctx, NULL, &outl, buf, (int)hdr_len) != 1 ||
      (payload_len > 0 && EVP_DecryptUpdate(r->ctx, payload, &outl, payload, payload_len) != 1) ||
      EVP_CIPHER_CTX_ctrl(r->ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, payload + payload_len) != 1 ||
      EVP_DecryptFinal_ex(r->ctx, payload + payload_len, &outl) != 1)
    return CHORUS_SRTP_GCM_AUTH_FAIL;
  if (is_new) {
    st = &r->streams[r->n_streams++];
    *st = fresh;
  } else if (index > st->highest) {
    guint64 delta = index - st->highest;
    if (delta >= REPLAY_WINDOW)
      memset(st->seen, 0, sizeof(st->seen));
    else
      for (guint64 k = st->highest + 1; k < index; k++)
        seen_set(st, k, FALSE);
    st->highest = index;
    st->roc = roc;
    st->s_l = seq;
  }
  seen_set(st, index, TRUE);
  return CHORUS_SRTP_GCM_OK;
}
