/* ingest.h - owns server ingest: the checks a sealed segment must pass, in
 * a fixed order, before the store keeps it, and exactly-once storage by
 * (device, seq) with the answer given only after COMMIT returned.
 * Never opens a segment (never includes or links src/export): it reads the
 * header and verifies with public keys only. Never stores anything of a
 * refused segment but the conflict flag. */
#ifndef ST_INGEST_H
#define ST_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/policy.h"
#include "server/store.h"

/* How far a segment's minutes may be from the server clock, either side.
 * Past: an agent that was offline uploads its spool late; future: clocks
 * drift. Each side is a config value bounded by ST_INGEST_WINDOW_MAX_S. */
#define ST_INGEST_WINDOW_DEFAULT_S 86400u
#define ST_INGEST_WINDOW_MAX_S (366u * 86400u)
/* Segments one batch may carry: one transaction (= ST_STORE_BATCH_MAX). */
#define ST_INGEST_BATCH_MAX ST_STORE_BATCH_MAX

struct st_ingest_cache;

/* What the lease check (step 9) is asked about one segment: its device,
 * the device's person's name and group (the scopes a pause may name), the
 * lease sequence the segment was recorded under (>= 1: 0 is refused
 * before) and the segment's own sequence. */
struct st_ingest_lease_q {
	const uint8_t *device_id; /* 16 */
	const char *person;
	const char *group;
	uint64_t lease_seq;
	uint64_t seq;
};
/* Answers 0 (accepted) or a negative st_err (ST_E_PAUSED) with a message
 * in err saying why; the refusal then carries that code. Called from the
 * thread that checks, so it must not block on the store: the server keeps
 * what it needs (the pauses, the confirmations) in memory. */
typedef int (*st_ingest_lease_fn)(void *ctx, const struct st_ingest_lease_q *q,
				  struct st_error *err);

struct st_ingest_cfg {
	const struct st_clock *clock; /* NULL = st_clock_system */
	/* Kept across calls by one thread (NULL: a cache per call): the
	 * parsed rule of each notice, which never changes for a hash. */
	struct st_ingest_cache *cache;
	uint32_t window_past_s;       /* 0 = ST_INGEST_WINDOW_DEFAULT_S */
	uint32_t window_future_s;     /* 0 = ST_INGEST_WINDOW_DEFAULT_S */
	/* Step 9 beyond the lease-0 refusal; NULL: only that (unit tests,
	 * tools). `sealtrace serve` refuses here what was recorded under a
	 * lease older than a pause of its device. */
	st_ingest_lease_fn lease_check;
	void *lease_ctx;
};

/* The answer for one segment. code 0: outcome says what the store did
 * (ST_STORE_STORED or ST_STORE_DUPLICATE), durably. code < 0: refused, or
 * (in a batch) not stored because the transaction failed. */
struct st_ingest_result {
	int code;
	int outcome; /* enum st_store_put when code is 0 */
	bool parsed; /* the header parsed: device_id and seq are its */
	uint8_t device_id[16];
	uint64_t seq;
	struct st_error err; /* why, when code < 0 (names the segment) */
};

struct st_ingest_item {
	const uint8_t *seg;
	size_t len;
};

/* Checks one segment and stores it. In this order, each failure with its
 * own code (docs/format.md for the header, DESIGN.md for the rules):
 *   1. header structure (st_segment_parse_header: ST_E_TRUNCATED,
 *      ST_E_BAD_MAGIC, ST_E_VERSION, ST_E_FLAGS, ST_E_LEVEL, ST_E_KINDS,
 *      ST_E_ORDER, ST_E_CAP, ST_E_CORRUPT); a sequence or lease sequence
 *      over 2^63-1 is ST_E_CAP
 *   2. device enrolled (ST_E_DEVICE_UNKNOWN) and active, and its person
 *      not erased (ST_E_DEVICE_REVOKED)
 *   3. signature and body hash with the device's stored public key
 *      (ST_E_SIGNATURE, ST_E_BODY_MISMATCH)
 *   4. the header's person is the device's person (ST_E_PERSON_MISMATCH)
 *   5. that person accepted the header's notice hash on that device
 *      (ST_E_NOTICE_NOT_ACCEPTED)
 *   6. the kinds bitmask is within what the notice's policy captures
 *      (ST_E_NOT_IN_NOTICE; st_ingest_kinds_allowed)
 *   7. the level is at most the policy's keep level (ST_E_OVER_KEEP)
 *   8. start and end minutes within the window around the server clock
 *      (ST_E_TIME_WINDOW)
 *   9. recorded under a lease: lease sequence 0 (a development agent) is
 *      ST_E_NO_LEASE on every server; then cfg->lease_check, if any
 *      (ST_E_PAUSED: recorded under a lease older than a pause covering
 *      the device, and not kept by the agent when it confirmed that pause)
 *  10. exactly once: the same (device, seq) with identical bytes is
 *      success with outcome ST_STORE_DUPLICATE (one copy kept); other bytes
 *      under a used sequence are refused (ST_E_CONFLICT) and a 'conflict'
 *      flag row is committed.
 * Steps 2-9 read the store outside the write transaction, so signature
 * checks never hold SQLite's one write lock; the write is one group commit
 * (st_store_segment_put_batch). A device revoked between a segment's check
 * and that commit may thus still have that one segment stored: it was
 * recorded and sent before the revocation. 0 is returned only once COMMIT
 * returned. res (may be NULL) receives the answer; err the message. */
int st_ingest_segment(struct st_store *store, const uint8_t *seg, size_t len,
		      const struct st_ingest_cfg *cfg,
		      struct st_ingest_result *res, struct st_error *err);

/* Group commit of n segments (1..ST_INGEST_BATCH_MAX): each is checked as
 * above and gets its own answer in res[i]; those that pass are stored in
 * one transaction with the conflict flags. Returns 0 when that transaction
 * committed (res[i].code then says, per segment, stored / duplicate / why
 * refused), or the store's error, in which case nothing of the batch is
 * stored and every segment that had passed its checks has that error as
 * its code: no answer of success is given before COMMIT returned. */
int st_ingest_batch(struct st_store *store, const struct st_ingest_item *items,
		    size_t n, const struct st_ingest_cfg *cfg,
		    struct st_ingest_result *res, struct st_error *err);

/* Header kinds bits a policy's capture kinds allow (docs/format.md bits):
 *   keys        1, 2   key_press, key_release
 *   text        24     key events carry text
 *   pointer     3-6    pointer, button press/release, scroll
 *   titles      25     focus events carry a title
 *   apps        26     focus events name an app id or class
 *   screenshots 13     keyframes (never on in this version)
 *   any of pointer, keys, titles, apps:
 *               7-10   focus (bare: the moment a window came to the
 *                      front, which the notice names), screen geometry,
 *                      idle start/end: the context every recording
 *                      carries, with no content of its own
 *   always      11, 12 session markers and redaction markers: codes only,
 *                      never content
 * So a policy that captures nothing admits only markers. Bit 7 is allowed
 * when titles and apps are both off because the agent still records bare
 * focus changes then (src/agent/capture.c keeps the event and drops its
 * strings); what a focus event may carry is held by bits 25 and 26. */
uint32_t st_ingest_kinds_allowed(const struct st_policy_capture *c);

/* st_ingest_batch in two halves, so that a server can check one batch on
 * one store connection while the previous one commits on another (the
 * commit waits on the disk; the checks need the CPU). Commits stay in
 * order on one connection, so exactly-once holds as with st_ingest_batch:
 * the same segment in two batches is stored by the first commit and is a
 * duplicate in the second.
 *
 * st_ingest_check: steps 1-9 for n segments, every read in one read
 * transaction (one snapshot, locks taken once). res[i] receives the
 * refusals now; the segments that passed are in *out for st_ingest_commit,
 * which keeps pointers into items: their bytes must live until it returns.
 * Returns 0, or the store's error (every segment not refused then carries
 * it, and *out is NULL).
 * st_ingest_commit: step 10 in one group commit; completes res and frees
 * prep, whatever it returns. */
int st_ingest_cache_new(struct st_ingest_cache **out); /* ST_E_NOMEM */
void st_ingest_cache_free(struct st_ingest_cache *c);  /* NULL is fine */

struct st_ingest_prep;
int st_ingest_check(struct st_store *store, const struct st_ingest_item *items,
		    size_t n, const struct st_ingest_cfg *cfg,
		    struct st_ingest_result *res, struct st_ingest_prep **out,
		    struct st_error *err);
int st_ingest_commit(struct st_store *store, struct st_ingest_prep *prep,
		     struct st_ingest_result *res, struct st_error *err);
void st_ingest_prep_free(struct st_ingest_prep *p); /* NULL is fine */

#endif
