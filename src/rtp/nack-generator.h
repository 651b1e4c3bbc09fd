/* NACK generation for one incoming stream (RFC 4585 generic NACK): notices
 * missing sequence numbers, asks for each after a short reordering wait,
 * asks again every max(1.5 RTT, min interval) up to a retry limit, then
 * gives up and signals that a keyframe is needed. Sans-IO: fed with
 * received seqs and `now_us`; polled for the seqs to NACK now (the caller
 * builds the RTCP with the NACK writer); tells its next deadline.
 * Tracking is a ring of CHORUS_NACK_GENERATOR_WINDOW slots allocated at
 * creation, so it is bounded and never allocates per packet. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Seqs tracked at most: a gap this far behind the newest packet is given
 * up. A power of two (slots are indexed by extended seq modulo it). */
#define CHORUS_NACK_GENERATOR_WINDOW 512

typedef struct {
  gint64 reorder_wait_us;       /* before the first NACK of a seq; default 5 ms */
  gint64 min_retry_interval_us; /* floor of the retry interval; default 10 ms */
  gint64 initial_rtt_us;        /* until set_rtt_us is called; default 100 ms */
  guint max_nacks;              /* NACKs per seq before giving up; default 10 */
  /* Learn the RTT from the answers: a retransmission of a seq NACKed once
   * (Karn: retried ones are ambiguous) is a sample of NACK -> RTX time,
   * smoothed 1/8 like TCP's SRTT, clamped to 5 ms..1 s. Default FALSE (the
   * RTT then only comes from set_rtt_us). */
  gboolean rtt_from_retransmissions;
} ChorusNackGeneratorConfig;

#define CHORUS_NACK_GENERATOR_DEFAULT_REORDER_WAIT_US 5000
#define CHORUS_NACK_GENERATOR_DEFAULT_MIN_RETRY_INTERVAL_US 10000
#define CHORUS_NACK_GENERATOR_DEFAULT_RTT_US 100000
#define CHORUS_NACK_GENERATOR_DEFAULT_MAX_NACKS 10

/* What a received packet meant to the generator. */
typedef enum {
  CHORUS_NACK_PACKET_NEW,       /* the newest so far (any seqs skipped are now missing) */
  CHORUS_NACK_PACKET_RECOVERED, /* was missing: reordered, or an answer to a NACK */
  CHORUS_NACK_PACKET_DUPLICATE, /* already received */
  CHORUS_NACK_PACKET_LATE,      /* given up already, or older than the window */
  CHORUS_NACK_PACKET_JUMP,      /* far from the stream: ignored unless the next follows it */
  CHORUS_NACK_PACKET_RESET,     /* the stream restarted or jumped: tracking starts over
                                 * here, a keyframe is requested */
} ChorusNackPacketVerdict;

typedef struct {
  guint64 packets;          /* handled */
  guint64 missing;          /* seqs found missing */
  guint64 nacks;            /* seqs returned by poll (each retry counts) */
  guint64 reordered;        /* missing seqs that arrived before their first NACK */
  guint64 recovered;        /* missing seqs that arrived after a NACK */
  guint64 recovered_rtx;    /* ... of which marked as retransmissions */
  guint64 given_up_retries; /* NACKed max_nacks times without an answer */
  guint64 given_up_window;  /* pushed out of the window by newer packets */
  guint64 duplicates;
  guint64 late;
  guint64 resets;
  guint64 keyframe_requests; /* times the keyframe signal was raised */
  guint64 rtt_samples;       /* RTT samples taken from retransmissions */
} ChorusNackCounters;

typedef struct _ChorusNackGenerator ChorusNackGenerator;

/* Fills @config with the defaults above. */
void chorus_nack_generator_config_init(ChorusNackGeneratorConfig *config);

/* @config: borrowed, NULL for the defaults. */
ChorusNackGenerator *chorus_nack_generator_new(const ChorusNackGeneratorConfig *config);
void chorus_nack_generator_free(ChorusNackGenerator *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusNackGenerator, chorus_nack_generator_free)

/* The round-trip time to the sender; applies at once to seqs already being
 * retried (their next NACK is due 1.5 RTT after their previous one). */
void chorus_nack_generator_set_rtt_us(ChorusNackGenerator *self, gint64 rtt_us);

/* The RTT in use (initial, set, or learnt from retransmissions). */
gint64 chorus_nack_generator_get_rtt_us(const ChorusNackGenerator *self);

/* A packet of the stream arrived (@retransmitted: it came as RTX). */
ChorusNackPacketVerdict chorus_nack_generator_handle_packet(ChorusNackGenerator *self, guint16 seq,
                                                            gboolean retransmitted, gint64 now_us);

/* Writes into @seqs (caller storage, @cap entries) the seqs to NACK at
 * @now_us, oldest first, and counts them as sent; seqs past their last retry
 * are given up instead. Returns how many were written; when that is @cap,
 * more may be due now (poll again). */
gsize chorus_nack_generator_poll_nacks(ChorusNackGenerator *self, gint64 now_us, guint16 *seqs,
                                       gsize cap);

/* TRUE once after data was lost for good (a seq given up, or a reset): the
 * owner should ask the sender for a keyframe (its own throttling applies). */
gboolean chorus_nack_generator_poll_keyframe_request(ChorusNackGenerator *self);

/* When poll_nacks next has something to do; G_MAXINT64 when nothing is
 * missing. */
gint64 chorus_nack_generator_next_deadline_us(ChorusNackGenerator *self);

/* Seqs currently missing and still being asked for. */
guint chorus_nack_generator_missing_count(const ChorusNackGenerator *self);

void chorus_nack_generator_get_counters(const ChorusNackGenerator *self,
                                        ChorusNackCounters *counters);

G_END_DECLS
