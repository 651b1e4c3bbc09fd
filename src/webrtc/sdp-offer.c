/* Subscriber side: Chorus offers tracks and applies the client's answer.
 *
 * The offerer keeps one slot per m-line for the life of the PeerConnection:
 *  - ACTIVE: sends a track (sendonly);
 *  - INACTIVE: its track was removed; the m-line stays, fully described and
 *    bundled (aiortc cannot take port-0 m-lines); the same track coming
 *    back (a PK restarting) takes it again under the same mid and SSRCs;
 *    other tracks get new m-lines (see Slot.last_track_key for why);
 *  - REJECTED: the answer gave port 0; written with its mid only, and
 *    recycled by any later track under a NEW mid (JSEP 5.2.2).
 * Payload types are allocated per codec configuration so that one pt never
 * means two things inside the BUNDLE (Chromium refuses such offers), and
 * every header extension has one id across all m-lines (aiortc breaks
 * otherwise, INTEROP.md). */
#include <string.h>

#include "core/error.h"
#include "webrtc/sdp-private.h"
#include "webrtc/sdp.h"

typedef enum { SLOT_ACTIVE, SLOT_INACTIVE, SLOT_REJECTED } SlotState;

typedef struct {
  char *mid;
  ChorusSdpKind kind;
  SlotState state;
  char *track_key;         /* ACTIVE only */
  ChorusSdpPayload *codec; /* with Chorus's pt; kept while INACTIVE */
  gint rtx_pt;             /* -1: none */
  gint red_pt;             /* -1: none */
  guint32 ssrc;
  guint32 rtx_ssrc;
  /* What the m-line carried last. Only that same track takes an INACTIVE
   * slot again, with the same SSRCs: aiortc 1.4 binds a receiver to the
   * SSRCs (and payload types) it first saw and drops a new SSRC on a
   * reused m-line, and Chromium does not play another track arriving
   * under an SSRC it already knew there. Other tracks get new m-lines.
   * (The caller continues the SSRC's sequence, see
   * chorus_sdp_offerer_create_offer.) */
  char *last_track_key;
  guint32 last_ssrc;
  guint32 last_rtx_ssrc;
  char *stream_id;
  char *track_id;
  char *cname;
  char *formats; /* m= formats written once REJECTED */
} Slot;

struct _ChorusSdpOfferer {
  guint64 session_id;
  guint64 version;
  guint next_mid;
  GPtrArray *slots;   /* Slot *: the state agreed by the last answer */
  GPtrArray *pending; /* Slot *: the state of the outstanding offer, or NULL */
  /* What each pt last meant in this session: a freed pt is given to another
   * codec only when no never-used pt is left, so a late packet of the old
   * stream is never read as the new one. */
  char *pt_history[128];
};

/* One id per extension across every m-line of every offer. */
static const struct {
  ChorusSdpExtension ext;
  guint8 id;
  gboolean audio;
  gboolean video;
} offered_extensions[] = {
    {CHORUS_SDP_EXT_MID, 1, TRUE, TRUE},
    {CHORUS_SDP_EXT_ABS_SEND_TIME, 2, TRUE, TRUE},
    {CHORUS_SDP_EXT_TRANSPORT_CC, 3, TRUE, TRUE},
    {CHORUS_SDP_EXT_AUDIO_LEVEL, 4, TRUE, FALSE},
    {CHORUS_SDP_EXT_VIDEO_ORIENTATION, 5, FALSE, TRUE},
};

#define VIDEO_FEEDBACK                                                                             \
  (CHORUS_SDP_FB_GOOG_REMB | CHORUS_SDP_FB_TRANSPORT_CC | CHORUS_SDP_FB_CCM_FIR |                  \
   CHORUS_SDP_FB_NACK | CHORUS_SDP_FB_NACK_PLI)
#define AUDIO_FEEDBACK CHORUS_SDP_FB_TRANSPORT_CC

/* ---- slots --------------------------------------------------------------------- */

static void
slot_clear_track(Slot *slot)
{
  g_clear_pointer(&slot->stream_id, g_free);
  g_clear_pointer(&slot->track_id, g_free);
  g_clear_pointer(&slot->cname, g_free);
  if (slot->ssrc != 0) {
    slot->last_ssrc = slot->ssrc;
    slot->last_rtx_ssrc = slot->rtx_ssrc;
  }
  if (slot->track_key != NULL) {
    g_free(slot->last_track_key);
    slot->last_track_key = g_steal_pointer(&slot->track_key);
  }
  slot->ssrc = 0;
  slot->rtx_ssrc = 0;
}

static void
slot_free(gpointer data)
{
  Slot *slot = data;
  slot_clear_track(slot);
  g_free(slot->last_track_key);
  g_free(slot->mid);
  chorus_sdp_payload_free(slot->codec);
  g_free(slot->formats);
  g_free(slot);
}

static Slot *
slot_copy(const Slot *slot)
{
  Slot *copy = g_new0(Slot, 1);
  *copy = *slot;
  copy->mid = g_strdup(slot->mid);
  copy->track_key = g_strdup(slot->track_key);
  copy->last_track_key = g_strdup(slot->last_track_key);
  copy->codec = slot->codec ? chorus_sdp_payload_copy(slot->codec) : NULL;
  copy->stream_id = g_strdup(slot->stream_id);
  copy->track_id = g_strdup(slot->track_id);
  copy->cname = g_strdup(slot->cname);
  copy->formats = g_strdup(slot->formats);
  return copy;
}

static GPtrArray *
slots_copy(GPtrArray *slots)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func(slot_free);
  for (guint i = 0; i < slots->len; i++)
    g_ptr_array_add(copy, slot_copy(g_ptr_array_index(slots, i)));
  return copy;
}

ChorusSdpOfferer *
chorus_sdp_offerer_new(guint64 session_id)
{
  ChorusSdpOfferer *offerer = g_new0(ChorusSdpOfferer, 1);
  offerer->session_id = session_id;
  offerer->slots = g_ptr_array_new_with_free_func(slot_free);
  return offerer;
}

void
chorus_sdp_offerer_free(ChorusSdpOfferer *offerer)
{
  if (offerer == NULL)
    return;
  g_ptr_array_unref(offerer->slots);
  if (offerer->pending)
    g_ptr_array_unref(offerer->pending);
  for (guint i = 0; i < 128; i++)
    g_free(offerer->pt_history[i]);
  g_free(offerer);
}

gboolean
chorus_sdp_offerer_has_pending_offer(const ChorusSdpOfferer *offerer)
{
  g_return_val_if_fail(offerer != NULL, FALSE);
  return offerer->pending != NULL;
}

guint64
chorus_sdp_offerer_get_version(const ChorusSdpOfferer *offerer)
{
  g_return_val_if_fail(offerer != NULL, 0);
  return offerer->version;
}

void
chorus_sdp_offerer_rollback(ChorusSdpOfferer *offerer)
{
  g_return_if_fail(offerer != NULL);
  g_clear_pointer(&offerer->pending, g_ptr_array_unref);
}

/* ---- payload types ---------------------------------------------------------------- */

/* What a pt means: two payloads with the same key may share a pt. */
static char *
payload_key(const char *name, guint32 clock_rate, guint channels, const char *fmtp)
{
  g_autofree char *lower = g_ascii_strdown(name, -1);
  return g_strdup_printf("%s/%u/%u;%s", lower, clock_rate, channels, fmtp ? fmtp : "");
}

typedef struct {
  char *keys[128];      /* pt -> key, NULL when free */
  char *const *history; /* the offerer's pt_history, borrowed */
} PtTable;

static void
pt_table_clear(PtTable *table)
{
  for (guint i = 0; i < 128; i++)
    g_clear_pointer(&table->keys[i], g_free);
}

static void
pt_table_reserve(PtTable *table, gint pt, char *key)
{
  if (pt < 0 || pt > 127 || table->keys[pt] != NULL) {
    g_free(key);
    return;
  }
  table->keys[pt] = key;
}

static char *
slot_rtx_key(const Slot *slot)
{
  g_autofree char *apt = g_strdup_printf("apt=%u", slot->codec->pt);
  return payload_key("rtx", slot->codec->clock_rate, 0, apt);
}

static char *
slot_red_key(const Slot *slot)
{
  g_autofree char *fmtp = g_strdup_printf("%u/%u", slot->codec->pt, slot->codec->pt);
  return payload_key("red", 48000, 2, fmtp);
}

static void
pt_table_add_slot(PtTable *table, const Slot *slot)
{
  if (slot->state == SLOT_REJECTED || slot->codec == NULL)
    return;
  const ChorusSdpPayload *codec = slot->codec;
  pt_table_reserve(table, codec->pt,
                   payload_key(codec->name, codec->clock_rate, codec->channels, codec->fmtp));
  if (slot->rtx_pt >= 0)
    pt_table_reserve(table, slot->rtx_pt, slot_rtx_key(slot));
  if (slot->red_pt >= 0)
    pt_table_reserve(table, slot->red_pt, slot_red_key(slot));
}

static gboolean
pt_is_dynamic(gint pt)
{
  return (pt >= 96 && pt <= 127) || (pt >= 35 && pt <= 63);
}

/* A free pt that meant @key before (or nothing, with @key NULL); with
 * @any, the lowest free one. Dynamic ranges: 96..127, then 35..63 as
 * browsers do. */
static gint
pt_table_find_free(const PtTable *table, const char *key, gboolean any)
{
  static const gint ranges[2][2] = {{96, 127}, {35, 63}};
  for (guint r = 0; r < 2; r++) {
    for (gint pt = ranges[r][0]; pt <= ranges[r][1]; pt++) {
      if (table->keys[pt] != NULL)
        continue;
      if (any || g_strcmp0(table->history[pt], key) == 0)
        return pt;
    }
  }
  return -1;
}

/* The pt for @key: the one already carrying it in this offer, else
 * @preferred, else the pt that carried it before, else a never-used one,
 * else any free one. */
static gint
pt_table_assign(PtTable *table, char *key, gint preferred)
{
  for (guint pt = 0; pt < 128; pt++) {
    if (table->keys[pt] != NULL && strcmp(table->keys[pt], key) == 0) {
      g_free(key);
      return (gint)pt;
    }
  }
  gint chosen = -1;
  if (pt_is_dynamic(preferred) && table->keys[preferred] == NULL &&
      (table->history[preferred] == NULL || strcmp(table->history[preferred], key) == 0))
    chosen = preferred;
  if (chosen < 0)
    chosen = pt_table_find_free(table, key, FALSE);
  if (chosen < 0)
    chosen = pt_table_find_free(table, NULL, FALSE);
  if (chosen < 0)
    chosen = pt_table_find_free(table, NULL, TRUE);
  if (chosen < 0) {
    g_free(key);
    return -1;
  }
  table->keys[chosen] = key;
  return chosen;
}

/* ---- building the offer ---------------------------------------------------------- */

static gboolean
track_valid(const ChorusSdpTrack *track, GError **error)
{
  const char *problem = NULL;
  if (track->track_key == NULL || *track->track_key == '\0')
    problem = "no track_key";
  else if (track->kind != CHORUS_SDP_KIND_AUDIO && track->kind != CHORUS_SDP_KIND_VIDEO)
    problem = "kind is neither audio nor video";
  else if (track->codec == NULL || track->codec->name == NULL ||
           !sdp_token_valid(track->codec->name, 32) || track->codec->clock_rate == 0)
    problem = "no codec name or clock rate";
  else if (track->codec->fmtp != NULL &&
           (strchr(track->codec->fmtp, '\r') || strchr(track->codec->fmtp, '\n')))
    problem = "line break in fmtp";
  else if (track->ssrc == 0)
    problem = "no ssrc";
  else if (track->rtx && (track->rtx_ssrc == 0 || track->rtx_ssrc == track->ssrc))
    problem = "rtx without a distinct rtx_ssrc";
  else if (!sdp_visible_valid(track->stream_id ? track->stream_id : "-", CHORUS_SDP_MAX_ID_CHARS) ||
           !sdp_visible_valid(track->track_id ? track->track_id : "-", CHORUS_SDP_MAX_ID_CHARS) ||
           !sdp_visible_valid(track->cname ? track->cname : "-", 255))
    problem = "stream_id, track_id or cname not visible ASCII";
  if (problem == NULL)
    return TRUE;
  g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "track '%s': %s",
              track->track_key ? track->track_key : "(null)", problem);
  return FALSE;
}

static const ChorusSdpTrack *
find_track(const ChorusSdpTrack *tracks, guint n_tracks, const char *track_key)
{
  for (guint i = 0; i < n_tracks; i++)
    if (g_strcmp0(tracks[i].track_key, track_key) == 0)
      return &tracks[i];
  return NULL;
}

static void
slot_set_track(Slot *slot, const ChorusSdpTrack *track)
{
  slot_clear_track(slot);
  slot->track_key = g_strdup(track->track_key);
  slot->ssrc = track->ssrc;
  slot->rtx_ssrc = track->rtx ? track->rtx_ssrc : 0;
  slot->stream_id = g_strdup(track->stream_id ? track->stream_id : "-");
  slot->track_id = g_strdup(track->track_id ? track->track_id : track->track_key);
  slot->cname = g_strdup(track->cname ? track->cname : "chorus");
  slot->state = SLOT_ACTIVE;
}

static gboolean
slot_codec_matches(const Slot *slot, const ChorusSdpTrack *track)
{
  const ChorusSdpPayload *a = slot->codec, *b = track->codec;
  return a != NULL && g_ascii_strcasecmp(a->name, b->name) == 0 && a->clock_rate == b->clock_rate &&
         a->channels == b->channels && g_strcmp0(a->fmtp, b->fmtp) == 0 &&
         (slot->rtx_pt >= 0) == track->rtx &&
         (slot->red_pt >= 0) == (track->red && track->kind == CHORUS_SDP_KIND_AUDIO);
}

/* Gives @slot the codec of @track with a pt from @table. RTX and RED come
 * in a second pass (slot_assign_extras) so that media codecs get the
 * publisher's pts when they are free. */
static gboolean
slot_assign_codec(Slot *slot, const ChorusSdpTrack *track, PtTable *table, GError **error)
{
  const ChorusSdpPayload *codec = track->codec;
  chorus_sdp_payload_free(slot->codec);
  slot->codec =
      chorus_sdp_payload_new(0, codec->name, codec->clock_rate, codec->channels, codec->fmtp);
  slot->codec->feedback = track->kind == CHORUS_SDP_KIND_VIDEO ? VIDEO_FEEDBACK : AUDIO_FEEDBACK;
  slot->rtx_pt = -1;
  slot->red_pt = -1;
  gint pt = pt_table_assign(
      table, payload_key(codec->name, codec->clock_rate, codec->channels, codec->fmtp), codec->pt);
  if (pt < 0) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "track '%s': no payload type left",
                track->track_key);
    return FALSE;
  }
  slot->codec->pt = (guint8)pt;
  return TRUE;
}

static gboolean
slot_assign_extras(Slot *slot, const ChorusSdpTrack *track, PtTable *table, GError **error)
{
  gboolean red = track->red && track->kind == CHORUS_SDP_KIND_AUDIO;
  if (track->rtx)
    slot->rtx_pt = pt_table_assign(table, slot_rtx_key(slot), -1);
  if (red)
    slot->red_pt = pt_table_assign(table, slot_red_key(slot), -1);
  if ((track->rtx && slot->rtx_pt < 0) || (red && slot->red_pt < 0)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "track '%s': no payload type left",
                track->track_key);
    return FALSE;
  }
  return TRUE;
}

/* Decides the slots of the next offer: removals, updates, placement of new
 * tracks (recycling), then payload types. */
static GPtrArray *
plan_slots(ChorusSdpOfferer *offerer, const ChorusSdpTrack *tracks, guint n_tracks, GError **error)
{
  g_autoptr(GPtrArray) slots = slots_copy(offerer->slots);
  guint n_committed = slots->len;
  g_autofree gboolean *recyclable = g_new0(gboolean, n_committed + 1);
  g_autofree gboolean *placed = g_new0(gboolean, n_tracks + 1);
  g_autofree gboolean *needs_codec = g_new0(gboolean, n_committed + n_tracks + 1);

  /* Removals and kept tracks. Only slots inactive or rejected in the last
   * answer are recyclable: a slot freed now is not reused in the same offer. */
  for (guint i = 0; i < slots->len; i++) {
    Slot *slot = g_ptr_array_index(slots, i);
    recyclable[i] = slot->state != SLOT_ACTIVE;
    if (slot->state != SLOT_ACTIVE)
      continue;
    const ChorusSdpTrack *track = find_track(tracks, n_tracks, slot->track_key);
    if (track == NULL || track->kind != slot->kind) {
      slot_clear_track(slot);
      slot->state = SLOT_INACTIVE;
      continue;
    }
    placed[track - tracks] = TRUE;
    if (!slot_codec_matches(slot, track))
      needs_codec[i] = TRUE;
    slot_set_track(slot, track);
  }

  /* New tracks: an inactive slot of the same kind keeps its mid; a rejected
   * slot takes any kind under a new mid; else a new m-line. */
  for (guint t = 0; t < n_tracks; t++) {
    if (placed[t])
      continue;
    const ChorusSdpTrack *track = &tracks[t];
    Slot *slot = NULL;
    guint index = 0;
    for (guint i = 0; i < n_committed && slot == NULL; i++) {
      Slot *candidate = g_ptr_array_index(slots, i);
      if (recyclable[i] && candidate->state == SLOT_INACTIVE && candidate->kind == track->kind &&
          g_strcmp0(candidate->last_track_key, track->track_key) == 0) {
        slot = candidate;
        index = i;
      }
    }
    for (guint i = 0; i < n_committed && slot == NULL; i++) {
      Slot *candidate = g_ptr_array_index(slots, i);
      if (recyclable[i] && candidate->state == SLOT_REJECTED) {
        slot = candidate;
        index = i;
        g_free(slot->mid);
        slot->mid = g_strdup_printf("%u", offerer->next_mid++);
        g_clear_pointer(&slot->formats, g_free);
      }
    }
    if (slot == NULL) {
      if (slots->len >= CHORUS_SDP_MAX_MEDIA) {
        g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "more than %d m-lines",
                    CHORUS_SDP_MAX_MEDIA);
        return NULL;
      }
      slot = g_new0(Slot, 1);
      slot->mid = g_strdup_printf("%u", offerer->next_mid++);
      slot->rtx_pt = -1;
      slot->red_pt = -1;
      g_ptr_array_add(slots, slot);
      index = slots->len - 1;
    }
    gboolean recycled_inactive = index < n_committed && slot->state == SLOT_INACTIVE;
    if (index < n_committed)
      recyclable[index] = FALSE;
    slot->kind = track->kind;
    slot_set_track(slot, track);
    if (recycled_inactive && slot->last_ssrc != 0) {
      slot->ssrc = slot->last_ssrc;
      if (slot->rtx_ssrc != 0 && slot->last_rtx_ssrc != 0)
        slot->rtx_ssrc = slot->last_rtx_ssrc;
    }
    needs_codec[index] = TRUE;
    placed[t] = TRUE;
  }

  /* Payload types: slots that keep their codec reserve theirs first. */
  PtTable table = {.history = offerer->pt_history};
  for (guint i = 0; i < slots->len; i++)
    if (!needs_codec[i])
      pt_table_add_slot(&table, g_ptr_array_index(slots, i));
  gboolean ok = TRUE;
  for (guint i = 0; i < slots->len && ok; i++) {
    Slot *slot = g_ptr_array_index(slots, i);
    if (needs_codec[i])
      ok = slot_assign_codec(slot, find_track(tracks, n_tracks, slot->track_key), &table, error);
  }
  for (guint i = 0; i < slots->len && ok; i++) {
    Slot *slot = g_ptr_array_index(slots, i);
    if (needs_codec[i])
      ok = slot_assign_extras(slot, find_track(tracks, n_tracks, slot->track_key), &table, error);
  }
  if (ok) {
    for (guint pt = 0; pt < 128; pt++) {
      if (table.keys[pt] != NULL) {
        g_free(offerer->pt_history[pt]);
        offerer->pt_history[pt] = g_strdup(table.keys[pt]);
      }
    }
  }
  pt_table_clear(&table);
  return ok ? g_steal_pointer(&slots) : NULL;
}

static void
add_ssrc(ChorusSdpMedia *media, guint32 ssrc_value, const Slot *slot)
{
  ChorusSdpSsrc *ssrc = g_new0(ChorusSdpSsrc, 1);
  ssrc->ssrc = ssrc_value;
  ssrc->cname = g_strdup(slot->cname);
  ssrc->msid_stream = g_strdup(slot->stream_id);
  ssrc->msid_track = g_strdup(slot->track_id);
  g_ptr_array_add(media->ssrcs, ssrc);
}

static ChorusSdpMedia *
slot_to_media(const Slot *slot, const ChorusSdpLocalParams *local, const guint8 fingerprint[32])
{
  ChorusSdpMedia *media = chorus_sdp_media_new(slot->kind);
  media->proto = g_strdup("UDP/TLS/RTP/SAVPF");
  media->mid = g_strdup(slot->mid);
  if (slot->state == SLOT_REJECTED) {
    media->port = 0;
    media->formats = g_strdup(slot->formats ? slot->formats : "0");
    media->direction = CHORUS_SDP_DIRECTION_INACTIVE;
    return media;
  }
  media->port = 9;
  media->rtcp_rsize = TRUE;
  sdp_media_set_local_transport(media, local, fingerprint);
  /* aiortc refuses anything but actpass in an offer, and browsers keep
   * their established role when re-offered actpass. */
  media->setup = CHORUS_SDP_SETUP_ACTPASS;
  media->direction =
      slot->state == SLOT_ACTIVE ? CHORUS_SDP_DIRECTION_SENDONLY : CHORUS_SDP_DIRECTION_INACTIVE;

  for (guint i = 0; i < G_N_ELEMENTS(offered_extensions); i++) {
    gboolean wanted = slot->kind == CHORUS_SDP_KIND_AUDIO ? offered_extensions[i].audio
                                                          : offered_extensions[i].video;
    if (!wanted)
      continue;
    ChorusSdpExtmap *extmap = g_new0(ChorusSdpExtmap, 1);
    extmap->id = offered_extensions[i].id;
    extmap->uri = g_strdup(chorus_sdp_extension_uri(offered_extensions[i].ext));
    g_ptr_array_add(media->extmaps, extmap);
  }

  const ChorusSdpPayload *codec = slot->codec;
  if (slot->red_pt >= 0) {
    g_autofree char *fmtp = g_strdup_printf("%u/%u", codec->pt, codec->pt);
    g_ptr_array_add(media->payloads,
                    chorus_sdp_payload_new((guint8)slot->red_pt, "red", 48000, 2, fmtp));
  }
  g_ptr_array_add(media->payloads, chorus_sdp_payload_copy(codec));
  if (slot->rtx_pt >= 0) {
    g_autofree char *fmtp = g_strdup_printf("apt=%u", codec->pt);
    g_ptr_array_add(media->payloads, chorus_sdp_payload_new((guint8)slot->rtx_pt, "rtx",
                                                            codec->clock_rate, 0, fmtp));
  }

  if (slot->state == SLOT_ACTIVE) {
    media->msid_stream = g_strdup(slot->stream_id);
    media->msid_track = g_strdup(slot->track_id);
    if (slot->rtx_ssrc != 0) {
      ChorusSdpSsrcGroup *group = g_new0(ChorusSdpSsrcGroup, 1);
      group->semantics = g_strdup("FID");
      group->ssrcs = g_array_new(FALSE, FALSE, sizeof(guint32));
      g_array_append_val(group->ssrcs, slot->ssrc);
      g_array_append_val(group->ssrcs, slot->rtx_ssrc);
      g_ptr_array_add(media->ssrc_groups, group);
    }
    add_ssrc(media, slot->ssrc, slot);
    if (slot->rtx_ssrc != 0)
      add_ssrc(media, slot->rtx_ssrc, slot);
  }
  return media;
}

static ChorusSdpMediaResult *
slot_result(const Slot *slot, guint index)
{
  ChorusSdpMediaResult *result = sdp_media_result_new(index, slot->mid, slot->kind);
  if (slot->state == SLOT_REJECTED) {
    result->reject_reason = g_strdup("rejected by an earlier answer");
    return result;
  }
  result->accepted = TRUE;
  result->direction =
      slot->state == SLOT_ACTIVE ? CHORUS_SDP_DIRECTION_SENDONLY : CHORUS_SDP_DIRECTION_INACTIVE;
  result->codec = chorus_sdp_payload_copy(slot->codec);
  result->rtx_pt = slot->rtx_pt;
  result->red_pt = slot->red_pt;
  result->rtcp_rsize = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS(offered_extensions); i++) {
    gboolean wanted = slot->kind == CHORUS_SDP_KIND_AUDIO ? offered_extensions[i].audio
                                                          : offered_extensions[i].video;
    if (wanted)
      result->ext_ids[offered_extensions[i].ext] = offered_extensions[i].id;
  }
  if (slot->state == SLOT_ACTIVE) {
    g_array_append_val(result->ssrcs, slot->ssrc);
    g_array_append_val(result->rtx_ssrcs, slot->rtx_ssrc);
    result->msid_stream = g_strdup(slot->stream_id);
    result->msid_track = g_strdup(slot->track_id);
    result->track_key = g_strdup(slot->track_key);
  }
  return result;
}

ChorusSdpNegotiation *
chorus_sdp_offerer_create_offer(ChorusSdpOfferer *offerer, const ChorusSdpTrack *tracks,
                                guint n_tracks, const ChorusSdpLocalParams *local, GError **error)
{
  g_return_val_if_fail(offerer != NULL && local != NULL, NULL);
  g_return_val_if_fail(tracks != NULL || n_tracks == 0, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (offerer->pending != NULL) {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT,
                        "an offer is outstanding: apply its answer or roll back first");
    return NULL;
  }
  guint8 fingerprint[32];
  if (!sdp_local_params_validate(local, fingerprint, error))
    return NULL;
  for (guint i = 0; i < n_tracks; i++) {
    if (!track_valid(&tracks[i], error))
      return NULL;
    if (find_track(tracks, i, tracks[i].track_key) != NULL) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "track '%s' given twice",
                  tracks[i].track_key);
      return NULL;
    }
  }

  g_autoptr(GPtrArray) slots = plan_slots(offerer, tracks, n_tracks, error);
  if (slots == NULL)
    return NULL;

  g_autoptr(ChorusSdpSession) offer = chorus_sdp_session_new();
  g_autoptr(ChorusSdpNegotiation) negotiation = sdp_negotiation_new();
  offer->session_id = offerer->session_id;
  offer->session_version = offerer->version + 1;
  offer->ice_lite = local->ice_lite;
  GPtrArray *bundle = g_ptr_array_new();
  gint tag = -1;
  for (guint i = 0; i < slots->len; i++) {
    const Slot *slot = g_ptr_array_index(slots, i);
    ChorusSdpMedia *media = slot_to_media(slot, local, fingerprint);
    if (slot->state != SLOT_REJECTED) {
      g_ptr_array_add(bundle, g_strdup(slot->mid));
      if (tag < 0)
        tag = (gint)i;
    }
    g_ptr_array_add(offer->media, media);
    g_ptr_array_add(negotiation->media, slot_result(slot, i));
  }
  g_ptr_array_add(bundle, NULL);
  offer->bundle = (char **)g_ptr_array_free(bundle, FALSE);
  if (tag >= 0) {
    ChorusSdpMedia *tag_media = g_ptr_array_index(offer->media, tag);
    for (guint i = 0; local->candidates && local->candidates[i]; i++)
      g_ptr_array_add(tag_media->candidates, g_strdup(local->candidates[i]));
    tag_media->end_of_candidates = local->end_of_candidates;
  }

  negotiation->sdp = chorus_sdp_session_write(offer);
  offerer->version++;
  offerer->pending = g_steal_pointer(&slots);
  return g_steal_pointer(&negotiation);
}

/* ---- applying the answer ------------------------------------------------------------ */

static gboolean
check_answer_payloads(const ChorusSdpMedia *offered, const ChorusSdpMedia *answered,
                      const char *label, GError **error)
{
  for (guint i = 0; i < answered->payloads->len; i++) {
    const ChorusSdpPayload *payload = g_ptr_array_index(answered->payloads, i);
    const ChorusSdpPayload *mine = chorus_sdp_media_find_payload(offered, payload->pt);
    if (mine == NULL) {
      sdp_set_error(error, "%s: payload type %u was not offered", label, payload->pt);
      return FALSE;
    }
    if (payload->name != NULL && (g_ascii_strcasecmp(payload->name, mine->name) != 0 ||
                                  payload->clock_rate != mine->clock_rate)) {
      sdp_set_error(error, "%s: payload type %u is %s/%u in the answer, %s/%u in the offer", label,
                    payload->pt, payload->name, payload->clock_rate, mine->name, mine->clock_rate);
      return FALSE;
    }
  }
  return TRUE;
}

/* Negotiates one m-line Chorus offered as @slot. Rejections are results, not
 * errors; an answer that does not fit the offer is an error. */
static gboolean
negotiate_media(Slot *slot, const ChorusSdpMedia *offered, const ChorusSdpMedia *answered,
                guint index, ChorusSdpMediaResult *result, GError **error)
{
  g_autofree char *label = sdp_media_label(answered, index);
  /* A rejected m-line in an answer may come without its mid. */
  gboolean mid_required = chorus_sdp_media_is_used(answered) || answered->mid != NULL;
  if (answered->kind != slot->kind || (mid_required && g_strcmp0(answered->mid, slot->mid) != 0)) {
    sdp_set_error(error, "%s: answer has mid '%s' (%s), the offer '%s' (%s)", label,
                  answered->mid ? answered->mid : "", answered->media, slot->mid,
                  chorus_sdp_kind_to_string(slot->kind));
    return FALSE;
  }
  if (!chorus_sdp_media_is_used(answered)) {
    result->reject_reason =
        g_strdup(slot->state == SLOT_REJECTED ? "rejected by an earlier answer"
                                              : "rejected by the answer (port 0)");
    if (slot->state != SLOT_REJECTED) {
      /* Remember the formats: the m-line keeps them while rejected. */
      GString *formats = g_string_new(NULL);
      for (guint i = 0; i < offered->payloads->len; i++)
        g_string_append_printf(
            formats, "%s%u", i ? " " : "",
            ((const ChorusSdpPayload *)g_ptr_array_index(offered->payloads, i))->pt);
      g_free(slot->formats);
      slot->formats = g_string_free(formats, FALSE);
      slot_clear_track(slot);
      slot->state = SLOT_REJECTED;
    }
    return TRUE;
  }
  if (slot->state == SLOT_REJECTED) {
    sdp_set_error(error, "%s: the answer accepts an m-line the offer rejected", label);
    return FALSE;
  }
  if (answered->direction == CHORUS_SDP_DIRECTION_SENDONLY) {
    sdp_set_error(error, "%s: answer direction sendonly does not fit a sendonly offer", label);
    return FALSE;
  }
  if (!check_answer_payloads(offered, answered, label, error))
    return FALSE;

  const ChorusSdpPayload *codec = chorus_sdp_media_find_payload(answered, slot->codec->pt);
  if (codec == NULL) {
    result->reject_reason =
        g_strdup_printf("answer dropped %s (pt %u)", slot->codec->name, slot->codec->pt);
    return TRUE;
  }
  if (slot->codec->id == CHORUS_SDP_CODEC_H264 && codec->fmtp != NULL &&
      !chorus_sdp_h264_fmtp_match(slot->codec->fmtp, codec->fmtp)) {
    result->reject_reason = g_strdup_printf("answer changed the H264 profile (%s)", codec->fmtp);
    return TRUE;
  }

  result->accepted = TRUE;
  gboolean sending =
      slot->state == SLOT_ACTIVE && answered->direction != CHORUS_SDP_DIRECTION_INACTIVE;
  result->direction = sending ? CHORUS_SDP_DIRECTION_SENDONLY : CHORUS_SDP_DIRECTION_INACTIVE;
  result->codec = chorus_sdp_payload_copy(slot->codec);
  if (codec->fmtp != NULL) {
    g_free(result->codec->fmtp);
    result->codec->fmtp = g_strdup(codec->fmtp);
  }
  result->codec->feedback = slot->codec->feedback & codec->feedback;
  if (slot->rtx_pt >= 0 && chorus_sdp_media_find_payload(answered, (guint)slot->rtx_pt) != NULL)
    result->rtx_pt = slot->rtx_pt;
  if (slot->red_pt >= 0 && chorus_sdp_media_find_payload(answered, (guint)slot->red_pt) != NULL)
    result->red_pt = slot->red_pt;
  result->rtcp_rsize = answered->rtcp_rsize;
  for (guint i = 0; i < answered->extmaps->len; i++) {
    const ChorusSdpExtmap *extmap = g_ptr_array_index(answered->extmaps, i);
    ChorusSdpExtension ext;
    if (chorus_sdp_extension_from_uri(extmap->uri, &ext) &&
        chorus_sdp_media_find_extmap(offered, ext) != NULL &&
        extmap->direction != CHORUS_SDP_DIRECTION_INACTIVE &&
        extmap->direction != CHORUS_SDP_DIRECTION_SENDONLY)
      result->ext_ids[ext] = extmap->id;
  }
  if (slot->state == SLOT_ACTIVE) {
    g_array_append_val(result->ssrcs, slot->ssrc);
    g_array_append_val(result->rtx_ssrcs, slot->rtx_ssrc);
    result->msid_stream = g_strdup(slot->stream_id);
    result->msid_track = g_strdup(slot->track_id);
    result->track_key = g_strdup(slot->track_key);
  }
  return TRUE;
}

ChorusSdpNegotiation *
chorus_sdp_offerer_apply_answer(ChorusSdpOfferer *offerer, const char *answer, GError **error)
{
  g_return_val_if_fail(offerer != NULL && answer != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (offerer->pending == NULL) {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT, "no offer outstanding");
    return NULL;
  }

  g_autoptr(ChorusSdpNegotiation) negotiation = sdp_negotiation_new();
  negotiation->remote = chorus_sdp_session_parse(answer, error);
  if (negotiation->remote == NULL)
    return NULL;
  const ChorusSdpSession *remote = negotiation->remote;
  g_autoptr(GPtrArray) slots = slots_copy(offerer->pending);
  if (remote->media->len != slots->len) {
    sdp_set_error(error, "answer has %u m-lines, the offer %u", remote->media->len, slots->len);
    return NULL;
  }

  /* Rebuild what was offered, to check the answer against it. The offer's
   * transport does not matter here, only codecs and extensions. */
  static const ChorusSdpLocalParams dummy = {
      .ice_ufrag = "xxxx",
      .ice_pwd = "xxxxxxxxxxxxxxxxxxxxxx",
  };
  static const guint8 no_fingerprint[32];
  for (guint i = 0; i < slots->len; i++) {
    Slot *slot = g_ptr_array_index(slots, i);
    const ChorusSdpMedia *answered = g_ptr_array_index(remote->media, i);
    g_autoptr(ChorusSdpMedia) offered = slot_to_media(slot, &dummy, no_fingerprint);
    ChorusSdpMediaResult *result = sdp_media_result_new(i, slot->mid, slot->kind);
    g_ptr_array_add(negotiation->media, result);
    if (!negotiate_media(slot, offered, answered, i, result, error))
      return NULL;
  }

  /* One transport: the answer's BUNDLE tag (or its only accepted m-line). */
  guint accepted = 0;
  gint tag = -1;
  for (guint i = 0; i < slots->len; i++) {
    const ChorusSdpMedia *answered = g_ptr_array_index(remote->media, i);
    if (!chorus_sdp_media_is_used(answered))
      continue;
    accepted++;
    gboolean bundled =
        remote->bundle && g_strv_contains((const char *const *)remote->bundle, answered->mid);
    if (remote->bundle == NULL && tag < 0)
      tag = (gint)i;
    else if (remote->bundle != NULL && !bundled) {
      sdp_set_error(error, "m-line %u (%s): not in the answer's a=group:BUNDLE", i,
                    answered->media);
      return NULL;
    }
  }
  if (remote->bundle == NULL && accepted > 1) {
    sdp_set_error(error, "BUNDLE required: the answer accepts %u m-lines and has no a=group:BUNDLE",
                  accepted);
    return NULL;
  }
  if (remote->bundle != NULL && remote->bundle[0] != NULL) {
    guint index = 0;
    for (; index < remote->media->len; index++)
      if (g_strcmp0(((const ChorusSdpMedia *)g_ptr_array_index(remote->media, index))->mid,
                    remote->bundle[0]) == 0)
        break;
    if (index < remote->media->len &&
        chorus_sdp_media_is_used(g_ptr_array_index(remote->media, index)))
      tag = (gint)index;
  }
  if (tag >= 0 && !sdp_transport_fill(&negotiation->transport, remote, (guint)tag, TRUE, error))
    return NULL;

  negotiation->extmap_allow_mixed = remote->extmap_allow_mixed;
  g_ptr_array_unref(offerer->slots);
  offerer->slots = g_steal_pointer(&slots);
  g_clear_pointer(&offerer->pending, g_ptr_array_unref);
  return g_steal_pointer(&negotiation);
}
