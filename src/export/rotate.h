/* rotate.h - owns moving every person's sealed secret from the old master
 * to a new master public key through the server's /v1/keys API. Never
 * touches a segment (they stay sealed to the person keys, which do not
 * change); never sends, prints or keeps a person's plain secret; holds the
 * old master secret only while it re-seals, in locked memory.
 *
 * The API (a privacy officer's bearer token; error bodies as docs/api.md):
 *
 *   GET /v1/keys/people[?after=HEX32]
 *     200 {"master_public": HEX64,
 *          "people": [{"id": HEX32, "public_key": HEX64,
 *                      "sealed_secret": BASE64 of 80 bytes}, ...],
 *          "next": HEX32 | null}
 *     Erased people are not listed. At most ST_ROTATE_PAGE_MAX people a
 *     page; the client asks again with after=next until next is null.
 *
 *   POST /v1/keys/rotate   Content-Type: application/json
 *     {"old_master_public": HEX64, "new_master_public": HEX64,
 *      "people": [{"id": HEX32, "sealed_secret": BASE64 of 80 bytes}, ...]}
 *     200 {"rotated": N}. 409 "conflict" (nothing changed) when the old key
 *     is not the server's current master or the people differ from its
 *     non-erased people.
 *
 * BASE64 is standard base64 with padding (sodium_base64_VARIANT_ORIGINAL);
 * hex is read in either case and ids are sent back as the server wrote
 * them. */
#ifndef ST_ROTATE_H
#define ST_ROTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "export/master.h"

#define ST_ROTATE_PAGE_MAX 1000 /* people in one listing page (the API's) */
/* People in one rotation: they all travel in one POST of about 170 bytes
 * each, which stays under the server's default body_max (16 MiB) at this
 * count. More needs a paged rotation in the API. */
#define ST_ROTATE_PEOPLE_MAX 90000
#define ST_ROTATE_ANSWER_MAX (4u << 20)  /* bytes of one listing page */
#define ST_ROTATE_TIMEOUT_MS 300000L     /* one request, the POST included */
#define ST_ROTATE_TOKEN_MAX 256

/* Where the server is: borrowed strings; NULL parts come from
 * SEALTRACE_URL, SEALTRACE_TOKEN and SEALTRACE_CA (st_rotate_target_resolve). */
struct st_rotate_target {
	const char *url, *token, *ca;
	long timeout_ms; /* 0: ST_ROTATE_TIMEOUT_MS */
};

/* Fills the missing parts from the environment and checks them: a URL
 * (https://, or http:// to a loopback address only) and a token. -EINVAL
 * (a usage error saying what to give) otherwise. */
int st_rotate_target_resolve(struct st_rotate_target *t, struct st_error *err);

struct st_rotate_person {
	char id[33];                          /* as the server wrote it */
	uint8_t public_key[ST_BOX_PK_LEN];
	uint8_t sealed[ST_MASTER_SEALED_LEN]; /* to the old master, then to
						 the new one after reseal */
};

/* Everyone the listing returned, and the server's master public key. */
struct st_rotate_list {
	struct st_rotate_person *v; /* plain memory: sealed secrets only */
	size_t n, cap;
	uint8_t master_public[ST_BOX_PK_LEN];
	bool have_master;
};

void st_rotate_list_init(struct st_rotate_list *l);
void st_rotate_list_fini(struct st_rotate_list *l);

/* Parses one listing answer and appends its people to l; next (33 bytes)
 * gets the cursor, "" when the answer says null. ST_E_JSON for a wrong
 * shape or field, ST_E_CAP over a bound, ST_E_CONFLICT when the master
 * public key differs from the one of an earlier page. */
int st_rotate_parse_page(const uint8_t *body, size_t len,
			 struct st_rotate_list *l, char next[33],
			 struct st_error *err);

/* Refuses a listing that names one person twice (ST_E_JSON). Sorts l. */
int st_rotate_check_unique(struct st_rotate_list *l, struct st_error *err);

/* Opens each person's sealed secret with old (st_master_open_person: it
 * must be the secret of their public key), seals it to new_pk and replaces
 * sealed. Nothing is changed in l unless every person succeeds. The message
 * names the person's id. */
int st_rotate_reseal(struct st_rotate_list *l, const struct st_master *old,
		     const uint8_t new_pk[ST_BOX_PK_LEN], struct st_error *err);

/* The POST body (JSON, malloc'ed; the caller frees). */
int st_rotate_body(const struct st_rotate_list *l,
		   const uint8_t old_pk[ST_BOX_PK_LEN],
		   const uint8_t new_pk[ST_BOX_PK_LEN], char **out,
		   struct st_error *err);

/* The whole rotation: lists every person, loads the old master from src
 * (it must be the server's current master), re-seals, wipes the master,
 * then posts. *rotated gets the count the server confirmed. Nothing is
 * changed on the server unless the POST succeeds. */
int st_rotate_run(const struct st_rotate_target *t,
		  const struct st_master_src *src,
		  const uint8_t new_pk[ST_BOX_PK_LEN], size_t *rotated,
		  struct st_error *err);

#endif
