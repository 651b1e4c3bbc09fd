#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/packet-history.h"

#define MS 1000

/* Builds an RTP packet: 2 CSRCs, a one-byte-header extension block (id 3,
 * 2 bytes; id 5, 1 byte), @payload_len bytes of a pattern, optional padding.
 * Returns its length. */
static gsize
build_packet(guint8 *buf, guint16 seq, guint32 ts, guint32 ssrc, gsize payload_len, guint8 pad)
{
  gsize off = 0;
  buf[off++] = (guint8)(0x80 | (pad ? 0x20 : 0) | 0x10 | 2);
  buf[off++] = 0x80 | 96; /* marker, PT 96 */
  chorus_rtp_write16(buf + off, seq);
  chorus_rtp_write32(buf + off + 2, ts);
  chorus_rtp_write32(buf + off + 6, ssrc);
  off += 10;
  chorus_rtp_write32(buf + off, 0x11111111);
  chorus_rtp_write32(buf + off + 4, 0x22222222);
  off += 8;
  chorus_rtp_write16(buf + off, CHORUS_RTP_EXT_ONE_BYTE_PROFILE);
  chorus_rtp_write16(buf + off + 2, 2); /* 8 bytes */
  off += 4;
  static const guint8 ext[8] = {0x31, 0xab, 0xcd, 0x50, 0x7f, 0, 0, 0};
  memcpy(buf + off, ext, sizeof(ext));
  off += sizeof(ext);
  for (gsize i = 0; i < payload_len; i++)
    buf[off++] = (guint8)(seq + i * 7);
  if (pad) {
    memset(buf + off, 0, pad - 1u);
    off += pad;
    buf[off - 1] = pad;
  }
  return off;
}

static ChorusRtpPacket
parse(const guint8 *buf, gsize len)
{
  ChorusRtpPacket p;
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, buf, len), CHORUS_RTP_OK);
  return p;
}

static void
store(ChorusRtpPacketHistory *h, guint16 seq, gsize payload_len, gint64 now_us)
{
  guint8 buf[1500];
  gsize len = build_packet(buf, seq, seq * 3000u, 0x5555, payload_len, 0);
  ChorusRtpPacket p = parse(buf, len);
  ck_assert_int_eq(chorus_rtp_packet_history_handle_sent(h, &p, now_us), CHORUS_RTP_OK);
}

START_TEST(test_store_lookup)
{
  g_autoptr(ChorusRtpPacketHistory) h = chorus_rtp_packet_history_new(16, 0);
  guint8 want[1500];
  for (guint16 s = 100; s < 104; s++)
    store(h, s, 200 + s, s * MS);
  for (guint16 s = 100; s < 104; s++) {
    const guint8 *data = NULL;
    gsize len = 0;
    gint64 sent_us = 0;
    ck_assert(chorus_rtp_packet_history_lookup(h, s, &data, &len, &sent_us));
    gsize want_len = build_packet(want, s, s * 3000u, 0x5555, 200 + s, 0);
    ck_assert_uint_eq(len, want_len);
    ck_assert_mem_eq(data, want, len);
    ck_assert_int_eq(sent_us, s * MS);
  }
  ck_assert(!chorus_rtp_packet_history_lookup(h, 104, NULL, NULL, NULL));
  /* 116 shares 100's slot, but was never stored. */
  ck_assert(!chorus_rtp_packet_history_lookup(h, 100 + 16, NULL, NULL, NULL));
  ck_assert(chorus_rtp_packet_history_lookup(h, 100, NULL, NULL, NULL));
}
END_TEST

START_TEST(test_overwrite_and_wrap)
{
  g_autoptr(ChorusRtpPacketHistory) h = chorus_rtp_packet_history_new(16, 0);
  guint16 s = 65530;
  for (guint i = 0; i < 17; i++, s++)
    store(h, s, 10, i * MS);
  /* 65530 was overwritten by 65530 + 16 = 10; the other 16 are there. */
  ck_assert(!chorus_rtp_packet_history_lookup(h, 65530, NULL, NULL, NULL));
  s = 65531;
  for (guint i = 0; i < 16; i++, s++)
    ck_assert(chorus_rtp_packet_history_lookup(h, s, NULL, NULL, NULL));
  const guint8 *data;
  gsize len;
  ck_assert_int_eq(chorus_rtp_packet_history_take_for_resend(h, 65530, 20 * MS, &data, &len),
                   CHORUS_RTP_HISTORY_NOT_FOUND);
  ck_assert_int_eq(chorus_rtp_packet_history_take_for_resend(h, 10, 20 * MS, &data, &len),
                   CHORUS_RTP_HISTORY_FOUND);
  ChorusRtpPacket p = parse(data, len);
  ck_assert_uint_eq(p.seq, 10);
  ChorusRtpHistoryCounters c;
  chorus_rtp_packet_history_get_counters(h, &c);
  ck_assert_uint_eq(c.stored, 17);
  ck_assert_uint_eq(c.not_found, 1);
  ck_assert_uint_eq(c.resent, 1);
}
END_TEST

START_TEST(test_too_big)
{
  g_autoptr(ChorusRtpPacketHistory) h = chorus_rtp_packet_history_new(8, 100);
  store(h, 1, 10, 0);
  guint8 buf[300];
  gsize len = build_packet(buf, 9, 0, 1, 120, 0); /* slot of 1 */
  ChorusRtpPacket p = parse(buf, len);
  ck_assert_int_eq(chorus_rtp_packet_history_handle_sent(h, &p, 1), CHORUS_RTP_DROP_TOO_BIG);
  ck_assert(!chorus_rtp_packet_history_lookup(h, 9, NULL, NULL, NULL));
  ck_assert(!chorus_rtp_packet_history_lookup(h, 1, NULL, NULL, NULL));
  ChorusRtpHistoryCounters c;
  chorus_rtp_packet_history_get_counters(h, &c);
  ck_assert_uint_eq(c.too_big, 1);
}
END_TEST

START_TEST(test_resend_rate_limit)
{
  g_autoptr(ChorusRtpPacketHistory) h = chorus_rtp_packet_history_new(64, 0);
  chorus_rtp_packet_history_set_rtt_us(h, 50 * MS);
  store(h, 7, 100, 0);
  const guint8 *data;
  gsize len;
  /* The first resend is immediate, however soon after the original. */
  ck_assert_int_eq(chorus_rtp_packet_history_take_for_resend(h, 7, 1 * MS, &data, &len),
                   CHORUS_RTP_HISTORY_FOUND);
  ck_assert_int_eq(chorus_rtp_packet_history_take_for_resend(h, 7, 10 * MS, &data, &len),
                   CHORUS_RTP_HISTORY_TOO_SOON);
  ck_assert_int_eq(chorus_rtp_packet_history_take_for_resend(h, 7, 51 * MS - 1, &data, &len),
                   CHORUS_RTP_HISTORY_TOO_SOON);
  ck_assert_int_eq(chorus_rtp_packet_history_take_for_resend(h, 7, 51 * MS, &data, &len),
                   CHORUS_RTP_HISTORY_FOUND);
  chorus_rtp_packet_history_set_rtt_us(h, 100 * MS);
  ck_assert_int_eq(chorus_rtp_packet_history_take_for_resend(h, 7, 111 * MS, &data, &len),
                   CHORUS_RTP_HISTORY_TOO_SOON);
  ck_assert_int_eq(chorus_rtp_packet_history_take_for_resend(h, 7, 151 * MS, &data, &len),
                   CHORUS_RTP_HISTORY_FOUND);
  /* A new packet in the slot starts fresh. */
  store(h, 7 + 64, 100, 160 * MS);
  ck_assert_int_eq(chorus_rtp_packet_history_take_for_resend(h, 7 + 64, 161 * MS, &data, &len),
                   CHORUS_RTP_HISTORY_FOUND);
  ChorusRtpHistoryCounters c;
  chorus_rtp_packet_history_get_counters(h, &c);
  ck_assert_uint_eq(c.resent, 4);
  ck_assert_uint_eq(c.too_soon, 3);
}
END_TEST

START_TEST(test_rtx_round_trip)
{
  guint8 orig[1500], rtx[1500], back[1500];
  gsize orig_len = build_packet(orig, 65535, 0xdeadbeef, 0xcafe0001, 333, 0);
  ChorusRtpPacket op = parse(orig, orig_len);
  gsize rtx_len = 0;
  ck_assert_int_eq(
      chorus_rtp_rtx_encapsulate(&op, 0xcafe0002, 97, 4321, rtx, sizeof(rtx), &rtx_len),
      CHORUS_RTP_OK);
  ck_assert_uint_eq(rtx_len, orig_len + 2);
  ChorusRtpPacket rp = parse(rtx, rtx_len);
  ck_assert_uint_eq(rp.payload_type, 97);
  ck_assert_uint_eq(rp.seq, 4321);
  ck_assert_uint_eq(rp.ssrc, 0xcafe0002);
  ck_assert_uint_eq(rp.timestamp, 0xdeadbeef);
  ck_assert(rp.marker);
  ck_assert_uint_eq(rp.csrc_count, 2);
  ck_assert_uint_eq(rp.payload_len, 333 + 2);
  ck_assert_uint_eq(chorus_rtp_read16(rtx + rp.payload_offset), 65535); /* OSN */
  ck_assert_mem_eq(rtx + rp.payload_offset + 2, orig + op.payload_offset, 333);
  const guint8 *v;
  gsize vlen;
  ck_assert(chorus_rtp_packet_find_extension(&rp, 3, &v, &vlen));
  ck_assert_uint_eq(vlen, 2);
  ck_assert_uint_eq(v[0], 0xab);

  gsize back_len = 0;
  ck_assert_int_eq(chorus_rtp_rtx_decapsulate(&rp, 96, 0xcafe0001, back, sizeof(back), &back_len),
                   CHORUS_RTP_OK);
  ck_assert_uint_eq(back_len, orig_len);
  ck_assert_mem_eq(back, orig, orig_len);

  /* Exactly the needed room works; one byte less does not. */
  ck_assert_int_eq(chorus_rtp_rtx_encapsulate(&op, 1, 97, 1, rtx, orig_len + 2, &rtx_len),
                   CHORUS_RTP_OK);
  ck_assert_int_eq(chorus_rtp_rtx_encapsulate(&op, 1, 97, 1, rtx, orig_len + 1, &rtx_len),
                   CHORUS_RTP_DROP_TOO_BIG);
  ck_assert_int_eq(chorus_rtp_rtx_decapsulate(&rp, 96, 1, back, orig_len - 1, &back_len),
                   CHORUS_RTP_DROP_TOO_BIG);
}
END_TEST

START_TEST(test_rtx_padding_and_malformed)
{
  guint8 orig[1500], rtx[1500], back[1500], want[1500];
  gsize orig_len = build_packet(orig, 42, 1, 2, 20, 4);
  ChorusRtpPacket op = parse(orig, orig_len);
  ck_assert_uint_eq(op.padding_len, 4);
  gsize rtx_len = 0, back_len = 0;
  ck_assert_int_eq(chorus_rtp_rtx_encapsulate(&op, 3, 97, 9, rtx, sizeof(rtx), &rtx_len),
                   CHORUS_RTP_OK);
  ChorusRtpPacket rp = parse(rtx, rtx_len);
  ck_assert_uint_eq(rp.padding_len, 0);
  ck_assert_uint_eq(rtx_len, orig_len - 4 + 2);
  ck_assert_int_eq(chorus_rtp_rtx_decapsulate(&rp, 96, 2, back, sizeof(back), &back_len),
                   CHORUS_RTP_OK);
  gsize want_len = build_packet(want, 42, 1, 2, 20, 0); /* the same without padding */
  ck_assert_uint_eq(back_len, want_len);
  ck_assert_mem_eq(back, want, want_len);

  /* An RTX packet with a 1-byte payload has no room for the OSN. */
  guint8 small[64];
  gsize small_len = build_packet(small, 1, 1, 1, 1, 0);
  ChorusRtpPacket sp = parse(small, small_len);
  ck_assert_int_eq(chorus_rtp_rtx_decapsulate(&sp, 96, 1, back, sizeof(back), &back_len),
                   CHORUS_RTP_DROP_MALFORMED);
  /* Padding only (a probe): no OSN either. */
  small_len = build_packet(small, 1, 1, 1, 0, 8);
  sp = parse(small, small_len);
  ck_assert_int_eq(chorus_rtp_rtx_decapsulate(&sp, 96, 1, back, sizeof(back), &back_len),
                   CHORUS_RTP_DROP_MALFORMED);
}
END_TEST

/* NACK answering as a downtrack would do it: store what was sent, then
 * resend the NACKed seqs as RTX, which decapsulate to exactly what was sent. */
START_TEST(test_history_to_rtx)
{
  g_autoptr(ChorusRtpPacketHistory) h = chorus_rtp_packet_history_new(512, 1200);
  for (guint i = 0; i < 2000; i++)
    store(h, (guint16)(64000 + i), 100 + i % 900, i * 10 * MS);
  guint16 rtx_seq = 0;
  for (guint i = 2000 - 512; i < 2000; i += 37) {
    guint16 seq = (guint16)(64000 + i);
    const guint8 *data;
    gsize len;
    ck_assert_int_eq(
        chorus_rtp_packet_history_take_for_resend(h, seq, 30 * G_USEC_PER_SEC, &data, &len),
        CHORUS_RTP_HISTORY_FOUND);
    ChorusRtpPacket p = parse(data, len);
    guint8 rtx[1500], back[1500];
    gsize rtx_len, back_len;
    ck_assert_int_eq(
        chorus_rtp_rtx_encapsulate(&p, 0x999, 97, rtx_seq++, rtx, sizeof(rtx), &rtx_len),
        CHORUS_RTP_OK);
    ChorusRtpPacket rp = parse(rtx, rtx_len);
    ck_assert_int_eq(chorus_rtp_rtx_decapsulate(&rp, 96, 0x5555, back, sizeof(back), &back_len),
                     CHORUS_RTP_OK);
    ck_assert_uint_eq(back_len, len);
    ck_assert_mem_eq(back, data, len);
  }
  ck_assert(!chorus_rtp_packet_history_lookup(h, (guint16)(64000 + 2000 - 513), NULL, NULL, NULL));
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("packet-history");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_store_lookup);
  tcase_add_test(tc, test_overwrite_and_wrap);
  tcase_add_test(tc, test_too_big);
  tcase_add_test(tc, test_resend_rate_limit);
  tcase_add_test(tc, test_rtx_round_trip);
  tcase_add_test(tc, test_rtx_padding_and_malformed);
  tcase_add_test(tc, test_history_to_rtx);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
