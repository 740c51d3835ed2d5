/* init.h - owns `sealtrace init`: a new data folder with its config, store,
 * policy, TLS material, lease and audit keys, master public key and the
 * first admin token and the first privacy officers' tokens. Never writes into a folder that holds a store already;
 * never accepts a master secret. */
#ifndef ST_INIT_H
#define ST_INIT_H

#include <stddef.h>

#include "core/err.h"
#include "core/token.h"

struct st_init_opts {
	const char *dir;           /* created 0700 (may exist empty) */
	const char *policy_file;   /* checked; becomes the current policy */
	const char *master_public; /* key file ST_KEY_MASTER_PUBLIC */
	const char *listen;        /* NULL = ST_CFG_LISTEN_DEFAULT */
	const char *const *hosts;  /* names in the server certificate besides
				      localhost, 127.0.0.1 and ::1 */
	size_t n_hosts;
	/* The operator's own TLS material (all three or none): copied in;
	 * no CA key is kept then. */
	const char *tls_cert, *tls_key, *tls_ca;
	/* The first privacy officers (at least ST_INIT_OFFICERS_MIN, distinct
	 * names): each becomes a person with an officer token. */
	const char *const *officers;
	size_t n_officers;
};

#define ST_INIT_OFFICERS_MIN 2
#define ST_INIT_OFFICERS_MAX 16

/* The officer tokens init made, in the order of opts.officers: printed
 * once, wiped by the caller. */
struct st_init_tokens {
	char officer[ST_INIT_OFFICERS_MAX][ST_TOKEN_TEXT_MAX];
};

/* Makes everything; admin_token receives the first admin token (role
 * admin, name "admin"), to be printed once: only its hash is stored. On
 * failure the folder is left as found when it was made here. */
int st_server_init(const struct st_init_opts *o,
		   char admin_token[ST_TOKEN_TEXT_MAX],
		   struct st_init_tokens *officer_tokens, struct st_error *err);

#endif
