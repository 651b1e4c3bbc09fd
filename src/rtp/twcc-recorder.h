/* Receive side of transport-wide congestion control
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01): records the arrival
 * time of every packet of one transport by its transport-wide seq, and
 * every feedback interval hands the caller the arrivals (or losses) since
 * the previous feedback, in seq order; the caller builds the RTCP with the
 * TWCC writer. Sans-IO: a ring allocated at creation, fed with seqs and
 * `now_us`. Also the header extension's value codec. */
#pragma once

#include <glib.h>

#include "rtp/rtcp-twcc.h"

G_BEGIN_DECLS

/* Seqs one feedback can cover at most; older unreported seqs are skipped.
 * A power of two (the ring is indexed by extended seq modulo it). */
#define CHORUS_TWCC_RECORDER_WINDOW 1024
#define CHORUS_TWCC_RECORDER_DEFAULT_INTERVAL_US 50000

/* arrival_us of a packet that did not arrive (before its feedback). */
#define CHORUS_TWCC_NOT_RECEIVED CHORUS_RTCP_TWCC_LOST

/* (seq as on the wire, arrival or CHORUS_TWCC_NOT_RECEIVED): the feedback
 * writer's own type, so polled arrivals go to the builder as they are. */
typedef ChorusRtcpTwccArrival ChorusTwccArrival;

typedef struct {
  guint64 packets;
  guint64 duplicates;
  guint64 late;      /* arrived after a feedback covered their seq (as lost, or a duplicate) */
  guint64 skipped;   /* never reported: fell out of the window before a poll */
  guint64 feedbacks; /* polls that returned arrivals */
} ChorusTwccRecorderCounters;

typedef struct _ChorusTwccRecorder ChorusTwccRecorder;

/* @feedback_interval_us: 0 for the default. */
ChorusTwccRecorder *chorus_twcc_recorder_new(gint64 feedback_interval_us);
void chorus_twcc_recorder_free(ChorusTwccRecorder *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusTwccRecorder, chorus_twcc_recorder_free)

void chorus_twcc_recorder_set_interval_us(ChorusTwccRecorder *self, gint64 feedback_interval_us);

/* A packet carrying transport-wide seq @seq arrived at @now_us. */
void chorus_twcc_recorder_handle_packet(ChorusTwccRecorder *self, guint16 seq, gint64 now_us);

/* When a feedback is due at @now_us: writes into @out (caller storage, @cap
 * entries) every seq from the first unreported one to the newest received,
 * in order, received or not, and sets @feedback_count to this feedback's
 * 8-bit sequence number (fb_pkt_count). Returns the entries written; 0 when
 * nothing is due. When the range is longer than @cap the rest stays due
 * (poll again at once, for the next feedback packet). */
gsize chorus_twcc_recorder_poll_feedback(ChorusTwccRecorder *self, gint64 now_us,
                                         ChorusTwccArrival *out, gsize cap, guint8 *feedback_count);

/* When the next feedback is due; G_MAXINT64 when nothing is unreported. */
gint64 chorus_twcc_recorder_next_deadline_us(const ChorusTwccRecorder *self);

void chorus_twcc_recorder_get_counters(const ChorusTwccRecorder *self,
                                       ChorusTwccRecorderCounters *counters);

/* The transport-wide-cc header extension value: a 16-bit seq, big endian
 * (the -02 form may append 2 bytes of feedback request, ignored here). */
gboolean chorus_rtp_twcc_read_ext(const guint8 *value, gsize len, guint16 *seq);
/* Writes the 2-byte value; returns 2, or 0 when @cap is too small. */
gsize chorus_rtp_twcc_write_ext(guint8 *out, gsize cap, guint16 seq);

G_END_DECLS
