/* fuzz_policy.c - libFuzzer target for the collection policy: parse and
 * check any bytes with st_policy_parse; a policy that passes must give a
 * canonical form that parses back to the same canonical bytes and hash, and
 * a notice, the same bytes twice. Never reads files. */
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/policy.h"
#include "fuzz_check.h"

/* Problems of a refused policy must each carry a code and a path. */
static void check_diag(const struct st_policy_diag *d, int rc)
{
	if (!d->n)
		fuzz_die("a refused policy reported no problem", NULL);
	bool broad = false;
	for (size_t i = 0; i < d->n; i++) {
		if (d->item[i].code >= 0 || !d->item[i].path[0] ||
		    !d->item[i].msg[0])
			fuzz_die("a problem without code, path or message", NULL);
		broad = broad || d->item[i].code == ST_E_BROAD_GRANT;
	}
	if (broad && rc != ST_E_BROAD_GRANT)
		fuzz_die("a broad grant was not the code returned", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct st_policy_diag diag; /* large: not on the stack */
	struct st_policy p, q;
	struct st_error err = {0};
	struct st_buf c1, c2, n1, n2;
	uint8_t h1[32], h2[32];

	int rc = st_policy_parse((const char *)data, size, &p, &diag, &err);
	if (rc < 0) {
		check_diag(&diag, rc);
		st_policy_fini(&p);
		return 0;
	}
	st_buf_init(&c1, false);
	st_buf_init(&c2, false);
	st_buf_init(&n1, false);
	st_buf_init(&n2, false);
	if (st_policy_canonical(&p, &c1) < 0 || st_policy_hash(&p, h1) < 0)
		fuzz_die("a policy that passed has no canonical form", NULL);
	if (st_policy_parse((const char *)c1.p, c1.len, &q, &diag, &err) < 0)
		fuzz_die("the canonical form of a passing policy is refused",
			 &err);
	if (st_policy_canonical(&q, &c2) < 0 || st_policy_hash(&q, h2) < 0)
		fuzz_die("the reparsed policy has no canonical form", NULL);
	if (c1.len != c2.len || memcmp(c1.p, c2.p, c1.len) != 0 ||
	    memcmp(h1, h2, sizeof h1) != 0)
		fuzz_die("canonical -> parse changed the policy hash", NULL);
	if (st_policy_notice(&p, &n1, &err) < 0 ||
	    st_policy_notice(&q, &n2, &err) < 0)
		fuzz_die("no notice for a passing policy", &err);
	if (n1.len != n2.len || memcmp(n1.p, n2.p, n1.len) != 0)
		fuzz_die("the notice is not deterministic", NULL);
	for (size_t i = 0; i < n1.len; i++)
		if (n1.p[i] < 0x20 && n1.p[i] != '\n')
			fuzz_die("a control character reached the notice", NULL);
	st_buf_fini(&c1);
	st_buf_fini(&c2);
	st_buf_fini(&n1);
	st_buf_fini(&n2);
	st_policy_fini(&p);
	st_policy_fini(&q);
	return 0;
}
