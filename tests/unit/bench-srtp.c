/* Cost of SRTP per packet for each profile: protect and unprotect of
 * 1200-byte RTP packets (a full video packet), in ns/packet. Not a test:
 * prints numbers for ARCHITECTURE.md's "Crypto choices" and for comparing
 * builds. Usage: bench-srtp [packets] */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webrtc/srtp.h"

#define PACKET_LEN 1200

static void
fill_keys(ChorusSrtpProfile profile, ChorusSrtpKeys *keys, gboolean swap)
{
  memset(keys, 0, sizeof *keys);
  keys->profile = profile;
  chorus_srtp_profile_get_key_lengths(profile, &keys->key_len, &keys->salt_len);
  for (guint i = 0; i < CHORUS_SRTP_MAX_KEY_LEN; i++) {
    keys->local_key[i] = (guint8)(swap ? 0xa0 + i : 0x10 + i);
    keys->remote_key[i] = (guint8)(swap ? 0x10 + i : 0xa0 + i);
  }
  for (guint i = 0; i < CHORUS_SRTP_MAX_SALT_LEN; i++) {
    keys->local_salt[i] = (guint8)(swap ? 0xc0 + i : 0x30 + i);
    keys->remote_salt[i] = (guint8)(swap ? 0x30 + i : 0xc0 + i);
  }
}

static void
make_rtp(guint8 *buf, guint32 index)
{
  guint16 seq = (guint16)index;
  guint32 ts = index * 3000u;
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = seq >> 8;
  buf[3] = seq & 0xff;
  buf[4] = ts >> 24;
  buf[5] = ts >> 16;
  buf[6] = ts >> 8;
  buf[7] = ts;
  buf[8] = 0x12;
  buf[9] = 0x34;
  buf[10] = 0x56;
  buf[11] = 0x78;
  memset(buf + 12, (int)(index & 0xff), PACKET_LEN - 12);
}

static void
bench(ChorusSrtpProfile profile, guint packets)
{
  ChorusSrtpKeys ka, kb;
  fill_keys(profile, &ka, FALSE);
  fill_keys(profile, &kb, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSrtp) tx = chorus_srtp_new(&ka, &error);
  g_autoptr(ChorusSrtp) rx = chorus_srtp_new(&kb, &error);
  if (tx == NULL || rx == NULL) {
    fprintf(stderr, "chorus_srtp_new: %s\n", error->message);
    exit(1);
  }

  /* Protect everything first (timed), keeping the packets, then unprotect
   * them (timed): each phase measures one operation only. */
  gsize stride = PACKET_LEN + CHORUS_SRTP_MAX_RTP_OVERHEAD;
  guint8 *store = g_malloc(stride * packets);
  gsize *lens = g_new(gsize, packets);
  for (guint i = 0; i < packets; i++)
    make_rtp(store + stride * i, i);

  gint64 t0 = g_get_monotonic_time();
  for (guint i = 0; i < packets; i++) {
    lens[i] = PACKET_LEN;
    if (chorus_srtp_protect_rtp(tx, store + stride * i, &lens[i], stride) != CHORUS_SRTP_OK)
      g_error("protect failed at %u", i);
  }
  gint64 t1 = g_get_monotonic_time();
  for (guint i = 0; i < packets; i++) {
    if (chorus_srtp_unprotect_rtp(rx, store + stride * i, &lens[i]) != CHORUS_SRTP_OK)
      g_error("unprotect failed at %u", i);
  }
  gint64 t2 = g_get_monotonic_time();

  printf("%-24s protect %7.0f ns/packet   unprotect %7.0f ns/packet   (%u packets of %d bytes)\n",
         chorus_srtp_profile_to_string(profile), (double)(t1 - t0) * 1000.0 / packets,
         (double)(t2 - t1) * 1000.0 / packets, packets, PACKET_LEN);
  g_free(store);
  g_free(lens);
}

int
main(int argc, char **argv)
{
  guint packets = argc > 1 ? (guint)atoi(argv[1]) : 200000;
  if (packets == 0)
    packets = 200000;
  /* Warm up both (libsrtp init, stream creation, caches). */
  bench(CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM, 1000);
  bench(CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80, 1000);
  printf("--\n");
  for (int round = 0; round < 3; round++) {
    bench(CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM, packets);
    bench(CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80, packets);
  }
  return 0;
}
