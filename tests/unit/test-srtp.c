/* ChorusSrtp: round trips for both profiles, exact overheads, and each
 * failure the packet path must tell apart (auth, replay, malformed, room). */
#include <check.h>
#include <string.h>

#include "alloc-counter.h"
#include "core/error.h"
#include "webrtc/srtp.h"

/* Two sides of one connection: A's local keys are B's remote ones. */
static void
make_keys(ChorusSrtpProfile profile, ChorusSrtpKeys *a, ChorusSrtpKeys *b, guint32 seed)
{
  guint key_len = 0, salt_len = 0;
  ck_assert(chorus_srtp_profile_get_key_lengths(profile, &key_len, &salt_len));
  GRand *rand = g_rand_new_with_seed(seed);
  memset(a, 0, sizeof *a);
  a->profile = profile;
  a->key_len = key_len;
  a->salt_len = salt_len;
  for (guint i = 0; i < key_len; i++) {
    a->local_key[i] = (guint8)g_rand_int(rand);
    a->remote_key[i] = (guint8)g_rand_int(rand);
  }
  for (guint i = 0; i < salt_len; i++) {
    a->local_salt[i] = (guint8)g_rand_int(rand);
    a->remote_salt[i] = (guint8)g_rand_int(rand);
  }
  g_rand_free(rand);
  *b = *a;
  memcpy(b->local_key, a->remote_key, sizeof b->local_key);
  memcpy(b->local_salt, a->remote_salt, sizeof b->local_salt);
  memcpy(b->remote_key, a->local_key, sizeof b->remote_key);
  memcpy(b->remote_salt, a->local_salt, sizeof b->remote_salt);
}

/* RTP: V=2, PT 96, @seq, ts, @ssrc, then @payload_len bytes of pattern. */
static gsize
make_rtp(guint8 *buf, guint16 seq, guint32 ssrc, gsize payload_len)
{
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = seq >> 8;
  buf[3] = seq & 0xff;
  guint32 ts = 90000u + seq * 3000u;
  buf[4] = ts >> 24;
  buf[5] = ts >> 16;
  buf[6] = ts >> 8;
  buf[7] = ts;
  buf[8] = ssrc >> 24;
  buf[9] = ssrc >> 16;
  buf[10] = ssrc >> 8;
  buf[11] = ssrc;
  for (gsize i = 0; i < payload_len; i++)
    buf[12 + i] = (guint8)(i * 7 + seq);
  return 12 + payload_len;
}

/* RTCP receiver report with one report block (32 bytes). */
static gsize
make_rtcp(guint8 *buf, guint32 ssrc)
{
  memset(buf, 0, 32);
  buf[0] = 0x81;
  buf[1] = 201;
  buf[3] = 7; /* length in words - 1 */
  buf[4] = ssrc >> 24;
  buf[5] = ssrc >> 16;
  buf[6] = ssrc >> 8;
  buf[7] = ssrc;
  for (int i = 8; i < 32; i++)
    buf[i] = (guint8)i;
  return 32;
}

static const ChorusSrtpProfile profiles[] = {
    CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM,
    CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80,
};

typedef struct {
  ChorusSrtp *a;
  ChorusSrtp *b;
} Pair;

static Pair
make_pair(ChorusSrtpProfile profile)
{
  ChorusSrtpKeys ka, kb;
  make_keys(profile, &ka, &kb, 42);
  g_autoptr(GError) error = NULL;
  Pair p = {chorus_srtp_new(&ka, &error), NULL};
  ck_assert_msg(p.a != NULL, "%s", error ? error->message : "");
  p.b = chorus_srtp_new(&kb, &error);
  ck_assert_msg(p.b != NULL, "%s", error ? error->message : "");
  chorus_srtp_keys_clear(&ka);
  chorus_srtp_keys_clear(&kb);
  return p;
}

static void
free_pair(Pair *p)
{
  chorus_srtp_free(p->a);
  chorus_srtp_free(p->b);
}

START_TEST(test_rtp_round_trip)
{
  ChorusSrtpProfile profile = profiles[_i];
  Pair p = make_pair(profile);
  guint tag = profile == CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM ? 16 : 10;
  ck_assert_uint_eq(chorus_srtp_get_rtp_overhead(p.a), tag);
  ck_assert_int_eq(chorus_srtp_get_profile(p.a), profile);

  guint8 plain[1500], buf[1500];
  for (guint16 seq = 1000; seq < 1100; seq++) {
    /* Two SSRCs on one session: ssrc_any both ways. */
    guint32 ssrc = seq % 2 ? 0x11111111 : 0x22222222;
    gsize len = make_rtp(plain, seq, ssrc, 1188);
    memcpy(buf, plain, len);
    gsize n = len;
    ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, buf, &n, sizeof buf), CHORUS_SRTP_OK);
    ck_assert_uint_eq(n, len + tag);
    /* Header in the clear, payload not. */
    ck_assert_mem_eq(buf, plain, 12);
    ck_assert(memcmp(buf + 12, plain + 12, len - 12) != 0);
    ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, buf, &n), CHORUS_SRTP_OK);
    ck_assert_uint_eq(n, len);
    ck_assert_mem_eq(buf, plain, len);
  }
  ck_assert_uint_eq(chorus_srtp_get_count(p.a, CHORUS_SRTP_OP_PROTECT_RTP, CHORUS_SRTP_OK), 100);
  ck_assert_uint_eq(chorus_srtp_get_count(p.b, CHORUS_SRTP_OP_UNPROTECT_RTP, CHORUS_SRTP_OK), 100);

  /* The other direction uses the other key. */
  gsize len = make_rtp(plain, 7, 0x33333333, 100);
  memcpy(buf, plain, len);
  gsize n = len;
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.b, buf, &n, sizeof buf), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.a, buf, &n), CHORUS_SRTP_OK);
  ck_assert_mem_eq(buf, plain, len);
  free_pair(&p);
}
END_TEST

START_TEST(test_rtcp_round_trip)
{
  ChorusSrtpProfile profile = profiles[_i];
  Pair p = make_pair(profile);
  guint overhead = profile == CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM ? 20 : 14;
  ck_assert_uint_eq(chorus_srtp_get_rtcp_overhead(p.a), overhead);

  guint8 plain[64], buf[64];
  for (int i = 0; i < 10; i++) {
    gsize len = make_rtcp(plain, 0xabcdef01);
    memcpy(buf, plain, len);
    gsize n = len;
    ck_assert_int_eq(chorus_srtp_protect_rtcp(p.a, buf, &n, sizeof buf), CHORUS_SRTP_OK);
    ck_assert_uint_eq(n, len + overhead);
    ck_assert(memcmp(buf + 8, plain + 8, len - 8) != 0);
    ck_assert_int_eq(chorus_srtp_unprotect_rtcp(p.b, buf, &n), CHORUS_SRTP_OK);
    ck_assert_uint_eq(n, len);
    ck_assert_mem_eq(buf, plain, len);
  }
  ck_assert_uint_eq(chorus_srtp_get_count(p.b, CHORUS_SRTP_OP_UNPROTECT_RTCP, CHORUS_SRTP_OK), 10);
  free_pair(&p);
}
END_TEST

START_TEST(test_tamper_is_auth_failure)
{
  Pair p = make_pair(profiles[_i]);
  guint8 plain[256], buf[256];
  gsize len = make_rtp(plain, 1, 0x1234, 160);

  /* A flipped bit in the payload, in the header, in the tag. */
  const gsize positions[] = {40, 2, 0 /* tag: set below */};
  for (guint k = 0; k < G_N_ELEMENTS(positions); k++) {
    make_rtp(plain, (guint16)(10 + k), 0x1234, 160);
    memcpy(buf, plain, len);
    gsize n = len;
    ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, buf, &n, sizeof buf), CHORUS_SRTP_OK);
    gsize pos = positions[k] != 0 ? positions[k] : n - 1;
    buf[pos] ^= 0x01;
    ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, buf, &n), CHORUS_SRTP_AUTH_FAIL);
  }
  ck_assert_uint_eq(chorus_srtp_get_count(p.b, CHORUS_SRTP_OP_UNPROTECT_RTP, CHORUS_SRTP_AUTH_FAIL),
                    3);

  /* RTCP too. */
  gsize rl = make_rtcp(plain, 0x99);
  memcpy(buf, plain, rl);
  gsize n = rl;
  ck_assert_int_eq(chorus_srtp_protect_rtcp(p.a, buf, &n, sizeof buf), CHORUS_SRTP_OK);
  buf[12] ^= 0x80;
  ck_assert_int_eq(chorus_srtp_unprotect_rtcp(p.b, buf, &n), CHORUS_SRTP_AUTH_FAIL);

  /* A packet protected with our own outbound key is not valid inbound. */
  make_rtp(plain, 50, 0x1234, 160);
  memcpy(buf, plain, len);
  n = len;
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, buf, &n, sizeof buf), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.a, buf, &n), CHORUS_SRTP_AUTH_FAIL);
  free_pair(&p);
}
END_TEST

START_TEST(test_replay)
{
  Pair p = make_pair(profiles[_i]);
  guint8 plain[256], first[256], buf[256];
  gsize len = make_rtp(plain, 500, 0x5555, 100);
  memcpy(first, plain, len);
  gsize n1 = len;
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, first, &n1, sizeof first), CHORUS_SRTP_OK);

  memcpy(buf, first, n1);
  gsize n = n1;
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, buf, &n), CHORUS_SRTP_OK);
  memcpy(buf, first, n1);
  n = n1;
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, buf, &n), CHORUS_SRTP_REPLAY);
  ck_assert_uint_eq(n, n1); /* untouched on failure */

  /* Far behind the window (1024): too old, even if never seen. */
  guint8 old[256];
  make_rtp(plain, 100, 0x5555, 100);
  memcpy(old, plain, len);
  gsize n_old = len;
  /* Protect seq 100 on a fresh sender so it is allowed, then push the
   * receiver's window ahead to 2000. */
  ChorusSrtpKeys ka, kb;
  make_keys(profiles[_i], &ka, &kb, 42);
  g_autoptr(ChorusSrtp) sender = chorus_srtp_new(&ka, NULL);
  ck_assert_int_eq(chorus_srtp_protect_rtp(sender, old, &n_old, sizeof old), CHORUS_SRTP_OK);
  make_rtp(plain, 2000, 0x5555, 100);
  memcpy(buf, plain, len);
  n = len;
  ck_assert_int_eq(chorus_srtp_protect_rtp(sender, buf, &n, sizeof buf), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, buf, &n), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, old, &n_old), CHORUS_SRTP_REPLAY);

  /* Within the window but unseen and late: accepted (reordering). */
  make_rtp(plain, 1990, 0x5555, 100);
  memcpy(buf, plain, len);
  n = len;
  ck_assert_int_eq(chorus_srtp_protect_rtp(sender, buf, &n, sizeof buf), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, buf, &n), CHORUS_SRTP_OK);
  ck_assert_uint_eq(chorus_srtp_get_count(p.b, CHORUS_SRTP_OP_UNPROTECT_RTP, CHORUS_SRTP_REPLAY),
                    2);

  /* RTCP replay. */
  gsize rl = make_rtcp(plain, 0x77);
  memcpy(first, plain, rl);
  n1 = rl;
  ck_assert_int_eq(chorus_srtp_protect_rtcp(p.a, first, &n1, sizeof first), CHORUS_SRTP_OK);
  memcpy(buf, first, n1);
  n = n1;
  ck_assert_int_eq(chorus_srtp_unprotect_rtcp(p.b, buf, &n), CHORUS_SRTP_OK);
  memcpy(buf, first, n1);
  n = n1;
  ck_assert_int_eq(chorus_srtp_unprotect_rtcp(p.b, buf, &n), CHORUS_SRTP_REPLAY);
  chorus_srtp_keys_clear(&ka);
  chorus_srtp_keys_clear(&kb);
  free_pair(&p);
}
END_TEST

/* allow_repeat_tx: protecting the same seq again (retransmission without
 * RTX) works and yields the same bytes; the receiver takes the first copy
 * and rejects the second as a replay. */
START_TEST(test_repeat_tx)
{
  Pair p = make_pair(profiles[_i]);
  guint8 plain[256], one[256], two[256];
  gsize len = make_rtp(plain, 77, 0x4242, 120);
  memcpy(one, plain, len);
  memcpy(two, plain, len);
  gsize n1 = len, n2 = len;
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, one, &n1, sizeof one), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, two, &n2, sizeof two), CHORUS_SRTP_OK);
  ck_assert_uint_eq(n1, n2);
  ck_assert_mem_eq(one, two, n1);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, one, &n1), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, two, &n2), CHORUS_SRTP_REPLAY);
  free_pair(&p);
}
END_TEST

START_TEST(test_malformed_and_no_space)
{
  Pair p = make_pair(profiles[_i]);
  guint tag = chorus_srtp_get_rtp_overhead(p.a);
  guint8 buf[256];
  gsize len = make_rtp(buf, 1, 1, 50);

  /* No room for the tag: nothing written. */
  gsize n = len;
  guint8 copy[256];
  memcpy(copy, buf, len);
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, buf, &n, len + tag - 1), CHORUS_SRTP_NO_SPACE);
  ck_assert_uint_eq(n, len);
  ck_assert_mem_eq(buf, copy, len);
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, buf, &n, len + tag), CHORUS_SRTP_OK);
  ck_assert_uint_eq(n, len + tag);

  /* Too short, wrong version, CSRCs and extension past the end. */
  n = 11;
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, copy, &n, sizeof copy), CHORUS_SRTP_MALFORMED);
  make_rtp(copy, 2, 1, 50);
  copy[0] = 0x40; /* version 1 */
  n = len;
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, copy, &n, sizeof copy), CHORUS_SRTP_MALFORMED);
  make_rtp(copy, 2, 1, 4);
  copy[0] = 0x8f; /* 15 CSRCs in a 16-byte packet */
  n = 16;
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, copy, &n, sizeof copy), CHORUS_SRTP_MALFORMED);
  make_rtp(copy, 2, 1, 8);
  copy[0] = 0x90; /* extension of 255 words in a 20-byte packet */
  copy[12] = 0xbe;
  copy[13] = 0xde;
  copy[14] = 0;
  copy[15] = 255;
  n = 20;
  ck_assert_int_eq(chorus_srtp_protect_rtp(p.a, copy, &n, sizeof copy), CHORUS_SRTP_MALFORMED);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, copy, &n), CHORUS_SRTP_MALFORMED);

  /* Unprotect of something shorter than header + tag. */
  make_rtp(copy, 3, 1, 0);
  n = 12 + tag - 1;
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(p.b, copy, &n), CHORUS_SRTP_MALFORMED);

  /* RTCP: too short, and no room. */
  n = 7;
  ck_assert_int_eq(chorus_srtp_protect_rtcp(p.a, copy, &n, sizeof copy), CHORUS_SRTP_MALFORMED);
  gsize rl = make_rtcp(copy, 5);
  n = rl;
  ck_assert_int_eq(
      chorus_srtp_protect_rtcp(p.a, copy, &n, rl + chorus_srtp_get_rtcp_overhead(p.a) - 1),
      CHORUS_SRTP_NO_SPACE);
  n = 8 + chorus_srtp_get_rtcp_overhead(p.a) - 1;
  ck_assert_int_eq(chorus_srtp_unprotect_rtcp(p.b, copy, &n), CHORUS_SRTP_MALFORMED);

  ck_assert_uint_eq(chorus_srtp_get_count(p.a, CHORUS_SRTP_OP_PROTECT_RTP, CHORUS_SRTP_MALFORMED),
                    4);
  ck_assert_uint_eq(chorus_srtp_get_count(p.a, CHORUS_SRTP_OP_PROTECT_RTP, CHORUS_SRTP_NO_SPACE),
                    1);
  ck_assert_uint_eq(chorus_srtp_get_count(p.b, CHORUS_SRTP_OP_UNPROTECT_RTP, CHORUS_SRTP_MALFORMED),
                    2);
  free_pair(&p);
}
END_TEST

/* A packet of random bytes that passes the header checks still cannot
 * authenticate; nothing crashes on any length. */
START_TEST(test_random_input)
{
  Pair p = make_pair(profiles[_i]);
  GRand *rand = g_rand_new_with_seed(7);
  guint8 buf[1600];
  guint64 ok = 0;
  for (int i = 0; i < 2000; i++) {
    gsize n = g_rand_int_range(rand, 0, 1500);
    for (gsize k = 0; k < n; k++)
      buf[k] = (guint8)g_rand_int(rand);
    if (i % 2)
      buf[0] = 0x80 | (buf[0] & 0x3f);
    ChorusSrtpResult r =
        i % 3 ? chorus_srtp_unprotect_rtp(p.b, buf, &n) : chorus_srtp_unprotect_rtcp(p.b, buf, &n);
    ck_assert_int_ne(r, CHORUS_SRTP_ERROR);
    ok += r == CHORUS_SRTP_OK;
  }
  ck_assert_uint_eq(ok, 0);
  g_rand_free(rand);
  free_pair(&p);
}
END_TEST

START_TEST(test_bad_keys)
{
  ChorusSrtpKeys ka, kb;
  make_keys(CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80, &ka, &kb, 1);
  g_autoptr(GError) error = NULL;

  ka.salt_len = 12;
  ck_assert_ptr_null(chorus_srtp_new(&ka, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  ck_assert_str_eq(error->message,
                   "SRTP_AES128_CM_SHA1_80 needs a 16-byte key and a 14-byte salt (got 16 and 12)");
  g_clear_error(&error);

  ka.salt_len = 14;
  ka.profile = (ChorusSrtpProfile)0x0002; /* SRTP_AES128_CM_SHA1_32: not supported */
  ck_assert_ptr_null(chorus_srtp_new(&ka, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  ck_assert_str_eq(error->message, "unsupported SRTP profile 0x0002");

  ck_assert_str_eq(chorus_srtp_profile_to_string(CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM),
                   "SRTP_AEAD_AES_128_GCM");
  ck_assert_str_eq(chorus_srtp_result_to_string(CHORUS_SRTP_REPLAY), "replay");
  ck_assert_ptr_null(chorus_srtp_profile_to_string(CHORUS_SRTP_PROFILE_NONE));

  chorus_srtp_keys_clear(&kb);
  for (gsize i = 0; i < sizeof kb; i++)
    ck_assert_uint_eq(((guint8 *)&kb)[i], 0);
}
END_TEST

/* Different keys on the two sides (e.g. a wrong split): every packet fails
 * authentication rather than decrypting to garbage. */
START_TEST(test_wrong_key)
{
  ChorusSrtpKeys ka, kb, kc;
  make_keys(profiles[_i], &ka, &kb, 1);
  make_keys(profiles[_i], &kc, &kb, 2);
  g_autoptr(ChorusSrtp) a = chorus_srtp_new(&ka, NULL);
  g_autoptr(ChorusSrtp) c = chorus_srtp_new(&kc, NULL);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(c);
  guint8 buf[256];
  gsize n = make_rtp(buf, 9, 9, 100);
  ck_assert_int_eq(chorus_srtp_protect_rtp(a, buf, &n, sizeof buf), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(c, buf, &n), CHORUS_SRTP_AUTH_FAIL);
}
END_TEST

/* GCM protect runs on OpenSSL (srtp-gcm.c), unprotect on libsrtp: the
 * ciphertext and tag must be byte for byte what libsrtp makes, across the
 * sequence wrap (rollover counter), with CSRCs and a header extension, for
 * resends from before the wrap, and for more SSRCs than its table holds. */
static gsize
make_rtp_ext(guint8 *buf, guint16 seq, guint32 ssrc, gsize payload_len)
{
  /* 2 CSRCs + a one-byte-header extension of 8 bytes. */
  guint8 tmp[1500];
  gsize n = make_rtp(tmp, seq, ssrc, payload_len);
  memcpy(buf, tmp, 12);
  buf[0] = 0x80 | 0x10 | 2;
  memset(buf + 12, 0xab, 8);
  const guint8 ext[] = { 0xbe, 0xde, 0x00, 0x02, 0x12, 0x01, 0x02, 0x03, 0x30, 0x04, 0x00, 0x00 };
  memcpy(buf + 20, ext, sizeof ext);
  memcpy(buf + 32, tmp + 12, n - 12);
  return n + 20;
}

static ChorusSrtp *
new_side(const ChorusSrtpKeys *k, gboolean libsrtp_only)
{
  if (libsrtp_only)
    g_setenv("CHORUS_SRTP_LIBSRTP_ONLY", "1", TRUE);
  g_autoptr(GError) error = NULL;
  ChorusSrtp *s = chorus_srtp_new(k, &error);
  g_unsetenv("CHORUS_SRTP_LIBSRTP_ONLY");
  ck_assert_msg(s != NULL, "%s", error ? error->message : "");
  return s;
}

START_TEST(test_gcm_sender_matches_libsrtp)
{
  ChorusSrtpKeys ka, kb;
  make_keys(CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM, &ka, &kb, 7);
  ChorusSrtp *ours = new_side(&ka, FALSE), *ref = new_side(&ka, TRUE), *rx = new_side(&kb, FALSE);
  guint8 a[1500], b[1500], plain[1500];
  /* 65000 .. 65535 -> 0 .. 500: the wrap, then resends from before it. */
  guint32 seqs[1200];
  guint n_seqs = 0;
  for (guint32 i = 65000; i < 65536 + 500; i += 3)
    seqs[n_seqs++] = i & 0xffff;
  for (guint32 i = 65500; i < 65536; i += 7)
    seqs[n_seqs++] = i; /* sent again after the wrap (plain resends) */
  for (guint32 i = 100; i < 400; i += 50)
    seqs[n_seqs++] = i; /* resends below the newest seq, after the wrap */
  for (guint k = 0; k < n_seqs; k++) {
    guint16 seq = (guint16)seqs[k];
    gsize len = (k % 2) ? make_rtp_ext(plain, seq, 0x1234, 200 + k % 900)
                        : make_rtp(plain, seq, 0x1234, 1 + k % 1100);
    memcpy(a, plain, len);
    memcpy(b, plain, len);
    gsize na = len, nb = len;
    ck_assert_int_eq(chorus_srtp_protect_rtp(ours, a, &na, sizeof a), CHORUS_SRTP_OK);
    ck_assert_int_eq(chorus_srtp_protect_rtp(ref, b, &nb, sizeof b), CHORUS_SRTP_OK);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na) == 0, "seq %u differs from libsrtp", seq);
    if (k < n_seqs - 12) { /* the last resends are replays for a receiver */
      ck_assert_int_eq(chorus_srtp_unprotect_rtp(rx, a, &na), CHORUS_SRTP_OK);
      ck_assert_mem_eq(a, plain, len);
    }
  }
  /* SRTCP too, byte for byte (the same index sequence from 1 for one SSRC). */
  for (guint k = 0; k < 5; k++) {
    gsize len = make_rtcp(plain, 0x4242); /* one SSRC: libsrtp counts indexes per SSRC, we per sender */
    memcpy(a, plain, len);
    memcpy(b, plain, len);
    gsize na = len, nb = len;
    ck_assert_int_eq(chorus_srtp_protect_rtcp(ours, a, &na, sizeof a), CHORUS_SRTP_OK);
    ck_assert_int_eq(chorus_srtp_protect_rtcp(ref, b, &nb, sizeof b), CHORUS_SRTP_OK);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na) == 0, "SRTCP packet %u differs from libsrtp", k);
    ck_assert_int_eq(chorus_srtp_unprotect_rtcp(rx, a, &na), CHORUS_SRTP_OK);
    ck_assert_mem_eq(a, plain, len);
  }
  /* More SSRCs than the OpenSSL sender keeps: the rest go to libsrtp, and
   * the receiver takes both. */
  for (guint32 ssrc = 1; ssrc <= 100; ssrc++) {
    gsize len = make_rtp(plain, (guint16)ssrc, ssrc, 300);
    memcpy(a, plain, len);
    gsize na = len;
    ck_assert_int_eq(chorus_srtp_protect_rtp(ours, a, &na, sizeof a), CHORUS_SRTP_OK);
    ck_assert_int_eq(chorus_srtp_unprotect_rtp(rx, a, &na), CHORUS_SRTP_OK);
    ck_assert_mem_eq(a, plain, len);
  }
  chorus_srtp_free(ours);
  chorus_srtp_free(ref);
  chorus_srtp_free(rx);
}
END_TEST

/* The packet path's protect allocates nothing once an SSRC is known (with
 * libsrtp on NSS it allocated on every packet). */
START_TEST(test_gcm_protect_does_not_allocate)
{
  install_counter();
  ChorusSrtpKeys ka, kb;
  make_keys(CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM, &ka, &kb, 9);
  ChorusSrtp *ours = new_side(&ka, FALSE), *ref = new_side(&ka, TRUE);
  guint8 buf[1500];
  gsize n = make_rtp(buf, 1, 0x99, 1000);
  ck_assert_int_eq(chorus_srtp_protect_rtp(ours, buf, &n, sizeof buf), CHORUS_SRTP_OK);
  n = make_rtp(buf, 1, 0x99, 1000);
  ck_assert_int_eq(chorus_srtp_protect_rtp(ref, buf, &n, sizeof buf), CHORUS_SRTP_OK);
  /* The counter works (else this test could not fail). */
  guint64 before = allocation_count();
  g_free(g_malloc(16));
  ck_assert_uint_gt(allocation_count(), before);
  /* For the record: libsrtp over NSS (Debian's) allocates per packet. */
  before = allocation_count();
  for (guint16 seq = 2; seq < 100; seq++) {
    n = make_rtp(buf, seq, 0x99, 1000);
    chorus_srtp_protect_rtp(ref, buf, &n, sizeof buf);
  }
  guint64 ref_allocs = allocation_count() - before;
  before = allocation_count();
  gboolean all_ok = TRUE;
  for (guint16 seq = 2; seq < 1000; seq++) {
    n = make_rtp(buf, seq, 0x99, 1000);
    all_ok &= chorus_srtp_protect_rtp(ours, buf, &n, sizeof buf) == CHORUS_SRTP_OK;
  }
  guint64 ours_allocs = allocation_count() - before;
  ck_assert(all_ok);
  ck_assert_uint_eq(ours_allocs, 0);
  g_test_message("libsrtp: %" G_GUINT64_FORMAT " allocations in 98 protects", ref_allocs);
  chorus_srtp_free(ours);
  chorus_srtp_free(ref);
}
END_TEST

/* GCM unprotect runs on OpenSSL too: every result (OK, replay, auth
 * failure) and every plaintext must be libsrtp's, over a stream with the
 * sequence wrap, reordering within and beyond the window, duplicates,
 * tampering and jumps; forged packets of new SSRCs must not take table
 * entries; and it allocates nothing. */
START_TEST(test_gcm_receiver_matches_libsrtp)
{
  ChorusSrtpKeys ka, kb;
  make_keys(CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM, &ka, &kb, 11);
  ChorusSrtp *tx = new_side(&ka, TRUE), *ours = new_side(&kb, FALSE), *ref = new_side(&kb, TRUE);
  guint8 plain[1500], a[1500], b[1500];
  GRand *rand = g_rand_new_with_seed(5);
  /* Sent in order (with jumps), delivered with delays: most at once, some a
   * few packets late (reordering inside the window), some over 1024 late
   * (outside it), some twice (replays), some tampered. */
  enum { N = 12000 };
  typedef struct { guint at; guint16 seq; guint32 ssrc; gsize len, n; gboolean tampered; } Sent;
  Sent *sent = g_new0(Sent, N);
  guint8 (*wire)[1500] = g_malloc(N * 1500);
  guint8 (*plains)[1500] = g_malloc(N * 1500);
  guint32 seq = 60000;
  for (guint k = 0; k < N; k++) {
    if (g_rand_int_range(rand, 0, 100) < 3)
      seq += g_rand_int_range(rand, 2, 3000); /* a jump */
    Sent *x = &sent[k];
    x->seq = (guint16)(seq++);
    x->ssrc = (k % 7 == 0) ? 0x2222 : 0x1111;
    x->len = (k % 3) ? make_rtp(plains[k], x->seq, x->ssrc, 50 + k % 1000)
                     : make_rtp_ext(plains[k], x->seq, x->ssrc, 50 + k % 1000);
    memcpy(wire[k], plains[k], x->len);
    x->n = x->len;
    ck_assert_int_eq(chorus_srtp_protect_rtp(tx, wire[k], &x->n, sizeof wire[k]), CHORUS_SRTP_OK);
    x->tampered = k % 97 == 0 || k % 89 == 0;
    if (k % 97 == 0)
      wire[k][x->n - 3] ^= 0x40; /* the tag */
    else if (k % 89 == 0)
      wire[k][x->len / 2] ^= 0x01; /* the payload */
    guint r = g_rand_int_range(rand, 0, 100);
    x->at = k * 4 + (r < 85 ? 0 : r < 95 ? g_rand_int_range(rand, 1, 200) : 4 * 1100 + 5);
  }
  /* Deliveries in time order; every 50th packet once more, later. */
  guint n_events = 0;
  guint (*events)[2] = g_malloc(sizeof(guint[2]) * N * 2);
  for (guint k = 0; k < N; k++) {
    events[n_events][0] = sent[k].at;
    events[n_events++][1] = k;
    if (k % 50 == 0) {
      events[n_events][0] = sent[k].at + 41;
      events[n_events++][1] = k;
    }
  }
  for (guint i = 1; i < n_events; i++) /* insertion sort by time (stable) */
    for (guint j = i; j > 0 && events[j - 1][0] > events[j][0]; j--) {
      guint t0 = events[j][0], t1 = events[j][1];
      events[j][0] = events[j - 1][0];
      events[j][1] = events[j - 1][1];
      events[j - 1][0] = t0;
      events[j - 1][1] = t1;
    }
  guint counts[CHORUS_SRTP_RESULT_N_] = { 0 };
  for (guint e = 0; e < n_events; e++) {
    guint k = events[e][1];
    memcpy(a, wire[k], sent[k].n);
    memcpy(b, wire[k], sent[k].n);
    gsize na = sent[k].n, nb = sent[k].n;
    ChorusSrtpResult ra = chorus_srtp_unprotect_rtp(ours, a, &na);
    ChorusSrtpResult rb = chorus_srtp_unprotect_rtp(ref, b, &nb);
    ck_assert_msg(ra == rb, "delivery %u (packet %u, seq %u, ssrc %x): ours %s, libsrtp %s", e, k,
                  sent[k].seq, sent[k].ssrc, chorus_srtp_result_to_string(ra),
                  chorus_srtp_result_to_string(rb));
    counts[ra]++;
    if (ra == CHORUS_SRTP_OK) {
      ck_assert_uint_eq(na, sent[k].len);
      ck_assert_mem_eq(a, plains[k], sent[k].len);
    }
  }
  g_free(events);
  g_free(sent);
  g_free(wire);
  g_free(plains);
  guint8 pkt[1500];
  /* The sequence exercised every outcome. */
  ck_assert_uint_gt(counts[CHORUS_SRTP_OK], 9000);
  ck_assert_uint_gt(counts[CHORUS_SRTP_REPLAY], 100);
  ck_assert_uint_gt(counts[CHORUS_SRTP_AUTH_FAIL], 100);

  /* Forged packets of 200 new SSRCs: all refused, and a real new SSRC
   * after them is still taken (the table did not fill). */
  for (guint32 f = 0; f < 200; f++) {
    gsize n = make_rtp(pkt, 1, 0x9000 + f, 100) + 16;
    memset(pkt + n - 16, 0xee, 16);
    ck_assert_int_eq(chorus_srtp_unprotect_rtp(ours, pkt, &n), CHORUS_SRTP_AUTH_FAIL);
  }
  gsize len = make_rtp(plain, 7, 0x3333, 300);
  memcpy(pkt, plain, len);
  gsize n = len;
  ck_assert_int_eq(chorus_srtp_protect_rtp(tx, pkt, &n, sizeof pkt), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(ours, pkt, &n), CHORUS_SRTP_OK);
  ck_assert_mem_eq(pkt, plain, len);

  /* No allocation per packet. */
  install_counter();
  guint8 batch[50][1500];
  gsize lens[50];
  for (guint k = 0; k < 50; k++) {
    lens[k] = make_rtp(batch[k], (guint16)(1000 + k), 0x3333, 1000);
    ck_assert_int_eq(chorus_srtp_protect_rtp(tx, batch[k], &lens[k], sizeof batch[k]), CHORUS_SRTP_OK);
  }
  guint64 before = allocation_count();
  gboolean all_ok = TRUE;
  for (guint k = 0; k < 50; k++)
    all_ok &= chorus_srtp_unprotect_rtp(ours, batch[k], &lens[k]) == CHORUS_SRTP_OK;
  guint64 allocs = allocation_count() - before;
  ck_assert(all_ok);
  ck_assert_uint_eq(allocs, 0);

  g_rand_free(rand);
  chorus_srtp_free(tx);
  chorus_srtp_free(ours);
  chorus_srtp_free(ref);
}
END_TEST

static Suite *
srtp_suite(void)
{
  Suite *s = suite_create("srtp");
  TCase *tc = tcase_create("core");
  int n = G_N_ELEMENTS(profiles);
  tcase_add_loop_test(tc, test_rtp_round_trip, 0, n);
  tcase_add_loop_test(tc, test_rtcp_round_trip, 0, n);
  tcase_add_loop_test(tc, test_tamper_is_auth_failure, 0, n);
  tcase_add_loop_test(tc, test_replay, 0, n);
  tcase_add_loop_test(tc, test_repeat_tx, 0, n);
  tcase_add_loop_test(tc, test_malformed_and_no_space, 0, n);
  tcase_add_loop_test(tc, test_random_input, 0, n);
  tcase_add_loop_test(tc, test_wrong_key, 0, n);
  tcase_add_test(tc, test_bad_keys);
  tcase_add_test(tc, test_gcm_sender_matches_libsrtp);
  tcase_add_test(tc, test_gcm_protect_does_not_allocate);
  tcase_add_test(tc, test_gcm_receiver_matches_libsrtp);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(srtp_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
