/* store_sqlite.c - the SQLite store backend: versioned migrations, WAL with
 * synchronous=FULL (COMMIT returns once durable), secure_delete, foreign
 * keys, and every statement prepared once and bound. Never builds SQL from
 * input and never puts a bound value into a message. One thread at a time
 * per instance. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "core/clock.h"

/* Migrations, in order: migration i brings the schema to version i + 1.
 * Append only; never edit one that has shipped (databases remember it).
 * Constant text: the only SQL not prepared with bound values. */
static const char *const migrations[] = {
	/* 1: people, devices, policies, acceptances, segments, flags */
	"CREATE TABLE people ("
	" id BLOB PRIMARY KEY CHECK (length(id) = 16),"
	" name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 254),"
	" grp TEXT NOT NULL DEFAULT '' CHECK (length(grp) <= 128),"
	" public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
	" sealed_secret BLOB CHECK (sealed_secret IS NULL OR"
	"  length(sealed_secret) = 80),"
	" erased INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1)),"
	" created_s INTEGER NOT NULL,"
	" CHECK (erased = 1 OR sealed_secret IS NOT NULL),"
	" CHECK (erased = 0 OR sealed_secret IS NULL));"
	"CREATE TABLE devices ("
	" id BLOB PRIMARY KEY CHECK (length(id) = 16),"
	" person_id BLOB NOT NULL REFERENCES people(id),"
	" public_key BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32),"
	" active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),"
	" enrolled_s INTEGER NOT NULL,"
	" last_seen_s INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (id, person_id));"
	"CREATE INDEX devices_by_person ON devices(person_id);"
	"CREATE TABLE policies ("
	" hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
	" canonical_json TEXT NOT NULL,"
	" notice BLOB NOT NULL,"
	" notice_hash BLOB NOT NULL UNIQUE CHECK (length(notice_hash) = 32),"
	" created_s INTEGER NOT NULL);"
	"CREATE TABLE acceptances ("
	" id INTEGER PRIMARY KEY,"
	" person_id BLOB NOT NULL,"
	" device_id BLOB NOT NULL,"
	" notice_hash BLOB NOT NULL REFERENCES policies(notice_hash),"
	" local_user TEXT NOT NULL CHECK (length(local_user) BETWEEN 1 AND 64),"
	" accepted_s INTEGER NOT NULL,"
	" FOREIGN KEY (device_id, person_id) REFERENCES devices(id, person_id));"
	"CREATE INDEX acceptances_by_key ON"
	" acceptances(person_id, device_id, notice_hash);"
	"CREATE TABLE segments ("
	" id INTEGER PRIMARY KEY,"
	" device_id BLOB NOT NULL,"
	" seq INTEGER NOT NULL CHECK (seq >= 0),"
	" person_id BLOB NOT NULL,"
	" header BLOB NOT NULL CHECK (length(header) = 308),"
	" ciphertext BLOB NOT NULL,"
	" t_start_min INTEGER NOT NULL,"
	" t_end_min INTEGER NOT NULL CHECK (t_end_min > t_start_min),"
	" lease_seq INTEGER NOT NULL,"
	" level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),"
	" kinds INTEGER NOT NULL,"
	" notice_hash BLOB NOT NULL REFERENCES policies(notice_hash),"
	" received_s INTEGER NOT NULL,"
	" UNIQUE (device_id, seq),"
	" FOREIGN KEY (device_id, person_id) REFERENCES devices(id, person_id));"
	"CREATE INDEX segments_by_person ON segments(person_id, t_start_min);"
	"CREATE TABLE flags ("
	" id INTEGER PRIMARY KEY,"
	" kind TEXT NOT NULL,"
	" device_id BLOB NOT NULL REFERENCES devices(id),"
	" seq INTEGER NOT NULL,"
	" evidence BLOB NOT NULL,"
	" created_s INTEGER NOT NULL);",
	/* 2: device enrollment facts and backlog, API tokens, enrollment
	 * tokens, settings (the current policy), forget requests. Added
	 * columns have defaults so that version 1 rows stay valid (their
	 * local_user is '' until the device enrolls again). */
	"ALTER TABLE devices ADD COLUMN local_user TEXT NOT NULL DEFAULT ''"
	" CHECK (length(local_user) <= 64);"
	"ALTER TABLE devices ADD COLUMN hostname TEXT NOT NULL DEFAULT ''"
	" CHECK (length(hostname) <= 253);"
	"ALTER TABLE devices ADD COLUMN backlog_segments INTEGER NOT NULL"
	" DEFAULT 0 CHECK (backlog_segments >= 0);"
	"ALTER TABLE devices ADD COLUMN backlog_bytes INTEGER NOT NULL"
	" DEFAULT 0 CHECK (backlog_bytes >= 0);"
	"ALTER TABLE devices ADD COLUMN backlog_s INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE policies ADD COLUMN applied_s INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE tokens ("
	" id BLOB PRIMARY KEY CHECK (length(id) = 16),"
	" name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),"
	" role TEXT NOT NULL CHECK (length(role) BETWEEN 1 AND 32),"
	" hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
	" created_s INTEGER NOT NULL,"
	" expires_s INTEGER NOT NULL DEFAULT 0 CHECK (expires_s >= 0),"
	" revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)));"
	"CREATE TABLE enroll_tokens ("
	" hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
	" person_id BLOB NOT NULL REFERENCES people(id),"
	" created_s INTEGER NOT NULL,"
	" expires_s INTEGER NOT NULL,"
	" used_s INTEGER NOT NULL DEFAULT 0,"
	" device_id BLOB REFERENCES devices(id),"
	" CHECK ((device_id IS NULL AND used_s = 0) OR"
	"  (length(device_id) = 16 AND used_s > 0)));"
	"CREATE INDEX enroll_tokens_by_person ON enroll_tokens(person_id);"
	"CREATE TABLE settings ("
	" key TEXT PRIMARY KEY,"
	" value BLOB NOT NULL);"
	"CREATE TABLE forgets ("
	" device_id BLOB NOT NULL REFERENCES devices(id),"
	" request_id BLOB NOT NULL CHECK (length(request_id) = 16),"
	" from_min INTEGER NOT NULL CHECK (from_min >= 0),"
	" to_min INTEGER NOT NULL CHECK (to_min >= from_min),"
	" received_s INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL CHECK (deleted >= 0),"
	" PRIMARY KEY (device_id, request_id));",
	/* 3: the kill switch. The epoch starts at 1 (0 is "no lease"); a
	 * pause row is in force while resumed_epoch is NULL, and the four
	 * resume columns are set together. */
	"INSERT INTO settings (key, value) VALUES ('epoch', 1);"
	"CREATE TABLE pauses ("
	" id INTEGER PRIMARY KEY,"
	" scope TEXT NOT NULL CHECK (scope IN ('all', 'group', 'user',"
	"  'device')),"
	" value TEXT NOT NULL DEFAULT '' CHECK (length(value) <= 254),"
	" epoch INTEGER NOT NULL UNIQUE CHECK (epoch >= 2),"
	" reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),"
	" paused_by TEXT NOT NULL CHECK (length(paused_by) BETWEEN 1 AND 64),"
	" discard INTEGER NOT NULL DEFAULT 0 CHECK (discard IN (0, 1)),"
	" created_s INTEGER NOT NULL,"
	" resumed_epoch INTEGER CHECK (resumed_epoch > epoch),"
	" resumed_s INTEGER,"
	" resumed_by TEXT CHECK (length(resumed_by) <= 64),"
	" resume_reason TEXT CHECK (length(resume_reason) <= 200),"
	" CHECK ((resumed_epoch IS NULL) = (resumed_s IS NULL) AND"
	"  (resumed_epoch IS NULL) = (resumed_by IS NULL) AND"
	"  (resumed_epoch IS NULL) = (resume_reason IS NULL)));"
	"CREATE INDEX pauses_by_scope ON pauses(scope, value, resumed_epoch);"
	"CREATE TABLE pause_confirms ("
	" device_id BLOB NOT NULL REFERENCES devices(id),"
	" epoch INTEGER NOT NULL REFERENCES pauses(epoch),"
	" last_seq INTEGER NOT NULL CHECK (last_seq >= 0),"
	" confirmed_s INTEGER NOT NULL,"
	" PRIMARY KEY (device_id, epoch));"
	"CREATE INDEX pause_confirms_by_epoch ON pause_confirms(epoch,"
	" device_id);",
	/* 4: least privilege. Tokens are bound to a person (NULL only for
	 * init's first admin token); purposes with their approvals; the
	 * audit log, its checkpoints and the pseudonyms kept apart from it;
	 * tombstones of erased people; what each export held. */
	"ALTER TABLE tokens ADD COLUMN person_id BLOB REFERENCES people(id)"
	" CHECK (person_id IS NULL OR length(person_id) = 16);"
	"CREATE TABLE token_requests ("
	" id INTEGER PRIMARY KEY,"
	" token_name TEXT NOT NULL CHECK (length(token_name) BETWEEN 1 AND 64),"
	" person_id BLOB NOT NULL REFERENCES people(id),"
	" role TEXT NOT NULL CHECK (length(role) BETWEEN 1 AND 32),"
	" expires_s INTEGER NOT NULL CHECK (expires_s >= 0),"
	" requested_by TEXT NOT NULL,"
	" created_s INTEGER NOT NULL,"
	" closed_s INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE purposes ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),"
	" description TEXT NOT NULL,"
	" scope TEXT NOT NULL,"
	" stewards TEXT NOT NULL,"
	" proposer BLOB NOT NULL REFERENCES people(id),"
	" created_s INTEGER NOT NULL,"
	" expires_s INTEGER NOT NULL CHECK (expires_s > created_s),"
	" state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),"
	" approved_s INTEGER NOT NULL DEFAULT 0,"
	" revoked_s INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE purpose_approvals ("
	" purpose_id INTEGER NOT NULL REFERENCES purposes(id),"
	" officer BLOB NOT NULL REFERENCES people(id),"
	" approved_s INTEGER NOT NULL,"
	" PRIMARY KEY (purpose_id, officer));"
	"CREATE TABLE audit ("
	" seq INTEGER PRIMARY KEY CHECK (seq >= 1),"
	" time_s INTEGER NOT NULL,"
	" actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL,"
	" object TEXT NOT NULL, purpose TEXT NOT NULL, result TEXT NOT NULL,"
	" prev BLOB NOT NULL CHECK (length(prev) = 32),"
	" hash BLOB NOT NULL CHECK (length(hash) = 32));"
	"CREATE INDEX audit_by_object ON audit(object, seq);"
	"CREATE TABLE audit_checkpoints ("
	" size INTEGER PRIMARY KEY CHECK (size >= 0),"
	" root BLOB NOT NULL CHECK (length(root) = 32),"
	" time_s INTEGER NOT NULL,"
	" key_id BLOB NOT NULL CHECK (length(key_id) = 8),"
	" sig BLOB NOT NULL CHECK (length(sig) = 64));"
	"CREATE TABLE pseudonyms ("
	" person_id BLOB PRIMARY KEY REFERENCES people(id),"
	" pseudonym TEXT NOT NULL UNIQUE);"
	"CREATE TABLE tombstones ("
	" person_id BLOB PRIMARY KEY REFERENCES people(id),"
	" erased_s INTEGER NOT NULL,"
	" erased_by TEXT NOT NULL);"
	"CREATE TABLE exports ("
	" id BLOB PRIMARY KEY CHECK (length(id) = 16),"
	" purpose_id INTEGER NOT NULL REFERENCES purposes(id),"
	" steward BLOB NOT NULL REFERENCES people(id),"
	" created_s INTEGER NOT NULL,"
	" out_dir TEXT NOT NULL DEFAULT '',"
	" manifest_hash BLOB,"
	" finished_s INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE export_people ("
	" export_id BLOB NOT NULL REFERENCES exports(id),"
	" person_id BLOB NOT NULL,"
	" PRIMARY KEY (person_id, export_id));",
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])
_Static_assert(N_MIGRATIONS == ST_STORE_SCHEMA_VERSION,
	       "one migration per schema version");

enum stmt_id {
	S_BEGIN, S_BEGIN_READ, S_COMMIT, S_ROLLBACK,
	S_PERSON_ADD, S_PERSON_GET, S_PERSON_LIST, S_PERSON_LIST_AFTER,
	S_DEVICE_ADD, S_DEVICE_GET, S_DEVICE_SET_ACTIVE, S_DEVICE_TOUCH,
	S_POLICY_FIND, S_POLICY_ADD, S_POLICY_GET,
	S_ACCEPT_ADD, S_ACCEPT_HAS,
	S_SEG_FIND, S_SEG_ADD, S_FLAG_ADD, S_SEG_GET, S_SEG_LIST,
	S_SEG_COUNT, S_SEG_COUNT_DEV, S_FLAG_LIST,
	/* schema 2 */
	S_PERSON_FIND, S_DEVICE_LIST, S_DEVICE_LIST_AFTER, S_DEVICE_BACKLOG,
	S_DEVICE_STATS,
	S_TOKEN_ADD, S_TOKEN_FIND, S_TOKEN_LIST, S_TOKEN_REVOKE,
	S_ENROLL_ADD, S_ENROLL_GET, S_ENROLL_USE,
	S_POLICY_APPLY, S_SETTING_PUT, S_POLICY_CURRENT,
	S_FORGET_GET, S_DEVICE_EXISTS, S_FORGET_DELETE, S_FORGET_ADD,
	S_COUNTS,
	/* schema 3 */
	S_EPOCH_GET, S_EPOCH_SET, S_PAUSE_ADD, S_RESUME, S_PAUSE_LIST,
	S_PAUSE_LIST_IN_FORCE, S_CONFIRM_ADD, S_CONFIRM_LIST,
	S_CONFIRM_LIST_AFTER, S_SCOPE_DEVICES,
	/* schema 4 */
	S_SETTING_GET, S_TREQ_ADD, S_TREQ_GET, S_TREQ_CLOSE,
	S_PURPOSE_ADD, S_PURPOSE_GET, S_PURPOSE_LIST, S_PAPPROVE_ADD,
	S_PAPPROVE_LIST, S_PURPOSE_STATE,
	S_AUDIT_ADD, S_AUDIT_LAST, S_AUDIT_LIST, S_AUDIT_LIST_OBJ,
	S_CKPT_ADD, S_CKPT_LAST, S_PSEUD_GET, S_PSEUD_ADD,
	S_PERSON_NOTICES, S_PERSON_RESEAL,
	S_ERASE_PERSON, S_ERASE_DEVICES, S_ERASE_SEGS, S_ERASE_ETOKENS,
	S_ERASE_TOKENS, S_ERASE_PSEUD, S_ERASE_TOMB, S_PERSON_EXPORTS,
	S_SWEEP, S_EXPORT_ADD, S_EXPORT_PERSON, S_EXPORT_GET, S_EXPORT_HAS,
	S_EXPORT_FINISH,
	S_COUNT,
};

#define PERSON_COLS \
	"id, name, grp, public_key, sealed_secret, erased, created_s"
#define DEVICE_COLS "id, person_id, public_key, active, enrolled_s, " \
	"last_seen_s, local_user, hostname, backlog_segments, backlog_bytes, " \
	"backlog_s"
#define TOKEN_COLS "id, name, role, hash, created_s, expires_s, revoked, " \
	"person_id"
#define ENROLL_COLS "hash, person_id, created_s, expires_s, used_s, device_id"
#define POLICY_COLS "hash, canonical_json, notice, notice_hash, created_s"
#define PAUSE_COLS "id, scope, value, epoch, reason, paused_by, discard, " \
	"created_s, resumed_epoch, resumed_s, resumed_by, resume_reason"
#define PURPOSE_COLS "id, name, description, scope, stewards, proposer, " \
	"created_s, expires_s, state, approved_s, revoked_s"
#define AUDIT_COLS "seq, time_s, actor, role, action, object, purpose, " \
	"result, prev, hash"
#define SEG_META "device_id, person_id, seq, lease_seq, t_start_min, " \
	"t_end_min, level, kinds, notice_hash, received_s, length(ciphertext)"

static const char *const sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN DEFERRED",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_PERSON_ADD] = "INSERT INTO people (" PERSON_COLS ")"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_PERSON_GET] = "SELECT " PERSON_COLS " FROM people WHERE id = ?1",
	[S_PERSON_LIST] = "SELECT " PERSON_COLS " FROM people"
			  " ORDER BY id LIMIT ?1",
	[S_PERSON_LIST_AFTER] = "SELECT " PERSON_COLS " FROM people"
				" WHERE id > ?2 ORDER BY id LIMIT ?1",
	[S_DEVICE_ADD] = "INSERT INTO devices (" DEVICE_COLS ")"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
			 " ?11)",
	[S_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM devices WHERE id = ?1",
	[S_DEVICE_SET_ACTIVE] = "UPDATE devices SET active = ?2 WHERE id = ?1",
	[S_DEVICE_TOUCH] = "UPDATE devices SET last_seen_s ="
			   " max(last_seen_s, ?2) WHERE id = ?1",
	[S_POLICY_FIND] = "SELECT notice_hash FROM policies WHERE hash = ?1",
	[S_POLICY_ADD] = "INSERT INTO policies (hash, canonical_json, notice,"
			 " notice_hash, created_s) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_POLICY_GET] = "SELECT " POLICY_COLS " FROM policies"
			 " WHERE notice_hash = ?1",
	[S_ACCEPT_ADD] = "INSERT INTO acceptances (person_id, device_id,"
			 " notice_hash, local_user, accepted_s)"
			 " VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_ACCEPT_HAS] = "SELECT 1 FROM acceptances WHERE person_id = ?1 AND"
			 " device_id = ?2 AND notice_hash = ?3 LIMIT 1",
	[S_SEG_FIND] = "SELECT header, ciphertext FROM segments"
		       " WHERE device_id = ?1 AND seq = ?2",
	[S_SEG_ADD] = "INSERT INTO segments (device_id, seq, person_id, header,"
		      " ciphertext, t_start_min, t_end_min, lease_seq, level,"
		      " kinds, notice_hash, received_s) VALUES (?1, ?2, ?3, ?4,"
		      " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[S_FLAG_ADD] = "INSERT INTO flags (kind, device_id, seq, evidence,"
		       " created_s) VALUES ('conflict', ?1, ?2, ?3, ?4)",
	[S_SEG_GET] = "SELECT " SEG_META ", header, ciphertext FROM segments"
		      " WHERE device_id = ?1 AND seq = ?2",
	[S_SEG_LIST] = "SELECT " SEG_META " FROM segments WHERE device_id = ?1"
		       " AND seq > ?2 ORDER BY seq LIMIT ?3",
	[S_SEG_COUNT] = "SELECT count(*) FROM segments",
	[S_SEG_COUNT_DEV] = "SELECT count(*) FROM segments WHERE device_id = ?1",
	[S_FLAG_LIST] = "SELECT id, kind, device_id, seq, evidence, created_s"
			" FROM flags WHERE id > ?1 ORDER BY id LIMIT ?2",
	[S_PERSON_FIND] = "SELECT " PERSON_COLS " FROM people WHERE name = ?1",
	[S_DEVICE_LIST] = "SELECT " DEVICE_COLS " FROM devices"
			  " ORDER BY id LIMIT ?1",
	[S_DEVICE_LIST_AFTER] = "SELECT " DEVICE_COLS " FROM devices"
				" WHERE id > ?2 ORDER BY id LIMIT ?1",
	[S_DEVICE_BACKLOG] = "UPDATE devices SET backlog_segments = ?2,"
			     " backlog_bytes = ?3, backlog_s = ?4 WHERE id = ?1",
	/* One statement, so the numbers are of one snapshot. Sequences
	 * start at 1: a stored 0 is not counted against the gaps. */
	[S_DEVICE_STATS] = "SELECT count(g.id), coalesce(sum(length("
			   "g.ciphertext)), 0), coalesce(max(g.seq), 0),"
			   " coalesce(sum(g.seq >= 1), 0)"
			   " FROM devices d LEFT JOIN segments g"
			   " ON g.device_id = d.id WHERE d.id = ?1"
			   " GROUP BY d.id",
	[S_TOKEN_ADD] = "INSERT INTO tokens (" TOKEN_COLS ")"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_TOKEN_FIND] = "SELECT " TOKEN_COLS " FROM tokens WHERE hash = ?1",
	[S_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM tokens"
			 " ORDER BY name LIMIT ?1",
	[S_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE name = ?1",
	[S_ENROLL_ADD] = "INSERT INTO enroll_tokens (hash, person_id,"
			 " created_s, expires_s) VALUES (?1, ?2, ?3, ?4)",
	[S_ENROLL_GET] = "SELECT " ENROLL_COLS " FROM enroll_tokens"
			 " WHERE hash = ?1",
	/* device_id IS NULL: a token is used once, whatever raced it. */
	[S_ENROLL_USE] = "UPDATE enroll_tokens SET used_s = ?2, device_id = ?3"
			 " WHERE hash = ?1 AND device_id IS NULL",
	[S_POLICY_APPLY] = "UPDATE policies SET applied_s = ?2 WHERE hash = ?1",
	[S_SETTING_PUT] = "INSERT INTO settings (key, value) VALUES (?1, ?2)"
			  " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[S_POLICY_CURRENT] = "SELECT p.hash, p.canonical_json, p.notice,"
			     " p.notice_hash, p.created_s, p.applied_s"
			     " FROM settings s"
			     " JOIN policies p ON p.hash = s.value"
			     " WHERE s.key = 'current_policy'",
	[S_FORGET_GET] = "SELECT deleted FROM forgets"
			 " WHERE device_id = ?1 AND request_id = ?2",
	[S_DEVICE_EXISTS] = "SELECT 1 FROM devices WHERE id = ?1",
	/* inclusive ranges overlap when each starts before the other ends */
	[S_FORGET_DELETE] = "DELETE FROM segments WHERE device_id = ?1"
			    " AND t_start_min <= ?3 AND t_end_min >= ?2",
	[S_FORGET_ADD] = "INSERT INTO forgets (device_id, request_id, from_min,"
			 " to_min, received_s, deleted)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_COUNTS] = "SELECT (SELECT count(*) FROM people),"
		     " (SELECT count(*) FROM devices),"
		     " (SELECT count(*) FROM devices WHERE active = 1),"
		     " (SELECT count(*) FROM segments),"
		     " (SELECT coalesce(sum(length(ciphertext)), 0)"
		     "  FROM segments),"
		     " (SELECT count(*) FROM flags),"
		     " (SELECT count(*) FROM tokens),"
		     " (SELECT count(*) FROM enroll_tokens"
		     "  WHERE device_id IS NULL)",
	[S_EPOCH_GET] = "SELECT value FROM settings WHERE key = 'epoch'",
	[S_EPOCH_SET] = "UPDATE settings SET value = ?1 WHERE key = 'epoch'",
	[S_PAUSE_ADD] = "INSERT INTO pauses (scope, value, epoch, reason,"
			" paused_by, discard, created_s)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_RESUME] = "UPDATE pauses SET resumed_epoch = ?3, resumed_s = ?4,"
		     " resumed_by = ?5, resume_reason = ?6"
		     " WHERE scope = ?1 AND value = ?2 AND resumed_epoch IS NULL",
	[S_PAUSE_LIST] = "SELECT " PAUSE_COLS " FROM pauses WHERE id > ?1"
			 " ORDER BY id LIMIT ?2",
	[S_PAUSE_LIST_IN_FORCE] = "SELECT " PAUSE_COLS " FROM pauses"
				  " WHERE id > ?1 AND resumed_epoch IS NULL"
				  " ORDER BY id LIMIT ?2",
	/* DO NOTHING: the first confirmation of a pause is the one kept */
	[S_CONFIRM_ADD] = "INSERT INTO pause_confirms (device_id, epoch,"
			  " last_seq, confirmed_s) VALUES (?1, ?2, ?3, ?4)"
			  " ON CONFLICT (device_id, epoch) DO NOTHING",
	/* what covers() in the API says, in one query: ?1 the scope, ?2
	 * the group or name, ?3 the device id */
	[S_SCOPE_DEVICES] = "SELECT count(*) FROM devices d JOIN people p"
			    " ON p.id = d.person_id WHERE d.active = 1 AND"
			    " CASE ?1 WHEN 1 THEN 1"
			    " WHEN 2 THEN p.grp <> '' AND p.grp = ?2"
			    " WHEN 3 THEN p.name = ?2"
			    " WHEN 4 THEN d.id = ?3 ELSE 0 END",
	[S_CONFIRM_LIST] = "SELECT device_id, epoch, last_seq, confirmed_s"
			   " FROM pause_confirms WHERE epoch = ?1"
			   " ORDER BY device_id LIMIT ?2",
	[S_CONFIRM_LIST_AFTER] = "SELECT device_id, epoch, last_seq,"
				 " confirmed_s FROM pause_confirms"
				 " WHERE epoch = ?1 AND device_id > ?3"
				 " ORDER BY device_id LIMIT ?2",
	[S_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
	[S_TREQ_ADD] = "INSERT INTO token_requests (token_name, person_id,"
		       " role, expires_s, requested_by, created_s)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_TREQ_GET] = "SELECT id, token_name, person_id, role, expires_s,"
		       " requested_by, created_s, closed_s FROM token_requests"
		       " WHERE id = ?1",
	[S_TREQ_CLOSE] = "UPDATE token_requests SET closed_s = ?2"
			 " WHERE id = ?1 AND closed_s = 0",
	[S_PURPOSE_ADD] = "INSERT INTO purposes (name, description, scope,"
			  " stewards, proposer, created_s, expires_s)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_PURPOSE_GET] = "SELECT " PURPOSE_COLS " FROM purposes WHERE id = ?1",
	[S_PURPOSE_LIST] = "SELECT " PURPOSE_COLS " FROM purposes ORDER BY id"
			   " LIMIT ?1",
	[S_PAPPROVE_ADD] = "INSERT INTO purpose_approvals (purpose_id, officer,"
			   " approved_s) VALUES (?1, ?2, ?3)",
	[S_PAPPROVE_LIST] = "SELECT officer FROM purpose_approvals"
			    " WHERE purpose_id = ?1 ORDER BY approved_s, officer",
	[S_PURPOSE_STATE] = "UPDATE purposes SET state = ?2,"
			    " approved_s = CASE WHEN ?2 = 1 THEN ?3"
			    " ELSE approved_s END,"
			    " revoked_s = CASE WHEN ?2 = 2 THEN ?3"
			    " ELSE revoked_s END WHERE id = ?1",
	[S_AUDIT_ADD] = "INSERT INTO audit (" AUDIT_COLS ")"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[S_AUDIT_LAST] = "SELECT " AUDIT_COLS " FROM audit"
			 " ORDER BY seq DESC LIMIT 1",
	[S_AUDIT_LIST] = "SELECT " AUDIT_COLS " FROM audit WHERE seq > ?1"
			 " ORDER BY seq LIMIT ?2",
	[S_AUDIT_LIST_OBJ] = "SELECT " AUDIT_COLS " FROM audit WHERE"
			     " object = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2",
	[S_CKPT_ADD] = "INSERT INTO audit_checkpoints (size, root, time_s,"
		       " key_id, sig) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_CKPT_LAST] = "SELECT size, root, time_s, key_id, sig"
			" FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
	[S_PSEUD_GET] = "SELECT pseudonym FROM pseudonyms WHERE person_id = ?1",
	[S_PSEUD_ADD] = "INSERT INTO pseudonyms (person_id, pseudonym)"
			" VALUES (?1, ?2)",
	[S_PERSON_NOTICES] = "SELECT DISTINCT notice_hash FROM acceptances"
			     " WHERE person_id = ?1 LIMIT ?2",
	[S_PERSON_RESEAL] = "UPDATE people SET sealed_secret = ?2"
			    " WHERE id = ?1 AND erased = 0",
	[S_ERASE_PERSON] = "UPDATE people SET sealed_secret = NULL, erased = 1"
			   " WHERE id = ?1 AND erased = 0",
	[S_ERASE_DEVICES] = "UPDATE devices SET active = 0"
			    " WHERE person_id = ?1 AND active = 1",
	[S_ERASE_SEGS] = "DELETE FROM segments WHERE person_id = ?1",
	[S_ERASE_ETOKENS] = "DELETE FROM enroll_tokens WHERE person_id = ?1"
			    " AND used_s = 0",
	[S_ERASE_TOKENS] = "UPDATE tokens SET revoked = 1 WHERE person_id = ?1"
			   " AND revoked = 0",
	[S_ERASE_PSEUD] = "DELETE FROM pseudonyms WHERE person_id = ?1",
	[S_ERASE_TOMB] = "INSERT INTO tombstones (person_id, erased_s,"
			 " erased_by) VALUES (?1, ?2, ?3)",
	[S_PERSON_EXPORTS] = "SELECT e.id, e.created_s FROM export_people p"
			     " JOIN exports e ON e.id = p.export_id"
			     " WHERE p.person_id = ?1 ORDER BY e.created_s"
			     " LIMIT ?2",
	[S_SWEEP] = "DELETE FROM segments WHERE t_end_min <= ?1",
	[S_EXPORT_ADD] = "INSERT INTO exports (id, purpose_id, steward,"
			 " created_s, out_dir) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_EXPORT_PERSON] = "INSERT OR IGNORE INTO export_people (export_id,"
			    " person_id) VALUES (?1, ?2)",
	[S_EXPORT_GET] = "SELECT id, purpose_id, steward, created_s, out_dir,"
			 " manifest_hash, finished_s FROM exports WHERE id = ?1",
	[S_EXPORT_HAS] = "SELECT 1 FROM export_people WHERE export_id = ?1"
			 " AND person_id = ?2",
	[S_EXPORT_FINISH] = "UPDATE exports SET manifest_hash = ?2,"
			    " finished_s = ?3 WHERE id = ?1 AND finished_s = 0",
};

struct sq_store {
	struct st_store base; /* first */
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	bool ready;
	const struct st_clock *clock;
	char path[256]; /* for messages: shortened if longer */
};

#define SQ(s) ((struct sq_store *)(s))

static int64_t now_s(const struct sq_store *q)
{
	return (int64_t)(st_wall_ns(q->clock) / 1000000000u);
}

/* Maps a SQLite result into the error space, with the database's own words
 * (they never quote bound values) and what to do. */
static int sq_fail(struct sq_store *q, int rc, const char *what,
		   struct st_error *err)
{
	int xrc = q->db ? sqlite3_extended_errcode(q->db) : rc;
	if ((xrc & 0xff) != (rc & 0xff))
		xrc = rc;
	const char *msg = q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
	switch (xrc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return st_fail(err, ST_E_EXISTS, "store %s: %s: already there (%s)",
			       q->path, what, msg);
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return st_fail(err, ST_E_NOT_FOUND,
			       "store %s: %s: a row it names is missing (%s)",
			       q->path, what, msg);
	default:
		break;
	}
	const char *todo = "";
	switch (xrc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		todo = "; another process holds the write lock, retry";
		break;
	case SQLITE_FULL:
		todo = "; the disk is full, free space";
		break;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		todo = "; check the file's owner and mode";
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		todo = "; restore the database from a backup";
		break;
	default:
		break;
	}
	return st_fail(err, ST_E_SQLITE_BASE - xrc, "store %s: %s: %s%s",
		       q->path, what, msg, todo);
}

/* Every statement goes back to its start with no bindings, so that none
 * stays active across a COMMIT. */
static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no row. */
static int run(struct sq_store *q, enum stmt_id id, const char *what,
	       struct st_error *err)
{
	int rc = sqlite3_step(q->st[id]);
	done(q->st[id]);
	if (rc != SQLITE_DONE)
		return sq_fail(q, rc, what, err);
	return 0;
}

/* Lengths fit int: every blob is under a cap far below INT_MAX. */
#define BLOB(st, i, p, n) \
	sqlite3_bind_blob((st), (i), (p), (int)(n), SQLITE_STATIC)
#define TEXT(st, i, p) sqlite3_bind_text((st), (i), (p), -1, SQLITE_STATIC)
#define I64(st, i, v) sqlite3_bind_int64((st), (i), (sqlite3_int64)(v))

/* Copies a blob column of exactly n bytes. */
static bool col_blob(sqlite3_stmt *st, int c, uint8_t *out, size_t n)
{
	if (sqlite3_column_type(st, c) != SQLITE_BLOB ||
	    (size_t)sqlite3_column_bytes(st, c) != n)
		return false;
	memcpy(out, sqlite3_column_blob(st, c), n);
	return true;
}

static bool col_text(sqlite3_stmt *st, int c, char *out, size_t max)
{
	const unsigned char *t = sqlite3_column_text(st, c);
	size_t n = (size_t)sqlite3_column_bytes(st, c);
	if (!t || n > max)
		return false;
	memcpy(out, t, n);
	out[n] = 0;
	return true;
}

static int corrupt(struct sq_store *q, const char *what, struct st_error *err)
{
	return st_fail(err, ST_E_CORRUPT,
		       "store %s: %s: a row does not have the shape schema "
		       "version %d gives it; restore from a backup",
		       q->path, what, ST_STORE_SCHEMA_VERSION);
}

/* ---- open, migrate, close ---- */

static int exec_const(struct sq_store *q, const char *text, const char *what,
		      struct st_error *err)
{
	int rc = sqlite3_exec(q->db, text, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : sq_fail(q, rc, what, err);
}

/* Runs a one-row, one-column pragma or query and gives its text. */
static int query_text(struct sq_store *q, const char *text, char *out,
		      size_t cap, struct st_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(q->db, text, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(q, rc, text, err);
	rc = sqlite3_step(st);
	out[0] = 0;
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		if (t) {
			size_t n = strnlen((const char *)t, cap - 1);
			memcpy(out, t, n);
			out[n] = 0;
		}
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sq_fail(q, rc, text, err);
}

static int set_pragmas(struct sq_store *q, struct st_error *err)
{
	char v[32];
	int rc;
	/* journal_mode answers with the mode in force: WAL is required (a
	 * file system without shared memory would silently keep DELETE). */
	if ((rc = query_text(q, "PRAGMA journal_mode = WAL", v, sizeof v, err)))
		return rc;
	if (strcmp(v, "wal") != 0)
		return st_fail(err, ST_E_SQLITE_BASE - SQLITE_CANTOPEN,
			       "store %s: journal mode is '%s', not 'wal'; put "
			       "the database on a local file system",
			       q->path, v);
	static const char *const set[] = {
		"PRAGMA synchronous = FULL",   /* COMMIT returns once durable */
		"PRAGMA secure_delete = ON",   /* erased keys are overwritten */
		"PRAGMA foreign_keys = ON",
		"PRAGMA trusted_schema = OFF",
	};
	for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
		if ((rc = exec_const(q, set[i], set[i], err)))
			return rc;
	/* Read them back: a pragma SQLite does not know is silently ignored. */
	static const char *const get[][2] = {
		{"PRAGMA synchronous", "2"},
		{"PRAGMA secure_delete", "1"},
		{"PRAGMA foreign_keys", "1"},
	};
	for (size_t i = 0; i < sizeof get / sizeof get[0]; i++) {
		if ((rc = query_text(q, get[i][0], v, sizeof v, err)))
			return rc;
		if (strcmp(v, get[i][1]) != 0)
			return st_fail(err, ST_E_STATE,
				       "store %s: %s is %s, needs %s", q->path,
				       get[i][0], v, get[i][1]);
	}
	return 0;
}

static int schema_version(struct sq_store *q, int64_t *v,
			  struct st_error *err)
{
	char t[32];
	int rc = query_text(q, "SELECT coalesce(max(version), 0) FROM "
			       "schema_version", t, sizeof t, err);
	if (rc)
		return rc;
	*v = strtoll(t, NULL, 10);
	return 0;
}

/* Brings the schema to ST_STORE_SCHEMA_VERSION in one transaction: a crash
 * leaves the old version whole. */
static int migrate(struct sq_store *q, struct st_error *err)
{
	int rc = exec_const(q, "BEGIN IMMEDIATE", "migration begin", err);
	if (rc)
		return rc;
	rc = exec_const(q, "CREATE TABLE IF NOT EXISTS schema_version ("
			   " version INTEGER PRIMARY KEY,"
			   " applied_s INTEGER NOT NULL)",
			"schema_version", err);
	int64_t v = 0;
	if (!rc)
		rc = schema_version(q, &v, err);
	if (!rc && (v < 0 || v > ST_STORE_SCHEMA_VERSION))
		rc = st_fail(err, ST_E_VERSION,
			     "store %s: schema version %lld, this build knows "
			     "up to %d; upgrade sealtrace",
			     q->path, (long long)v, ST_STORE_SCHEMA_VERSION);
	sqlite3_stmt *ins = NULL;
	if (!rc && v < ST_STORE_SCHEMA_VERSION) {
		int prc = sqlite3_prepare_v2(q->db,
					     "INSERT INTO schema_version "
					     "(version, applied_s) VALUES (?1, ?2)",
					     -1, &ins, NULL);
		if (prc != SQLITE_OK)
			rc = sq_fail(q, prc, "schema_version", err);
	}
	for (int64_t i = v; !rc && i < ST_STORE_SCHEMA_VERSION; i++) {
		char what[48];
		snprintf(what, sizeof what, "migration to version %lld",
			 (long long)(i + 1));
		rc = exec_const(q, migrations[i], what, err);
		if (rc)
			break;
		I64(ins, 1, i + 1);
		I64(ins, 2, now_s(q));
		int src = sqlite3_step(ins);
		done(ins);
		if (src != SQLITE_DONE)
			rc = sq_fail(q, src, what, err);
	}
	sqlite3_finalize(ins);
	if (!rc)
		rc = exec_const(q, "COMMIT", "migration commit", err);
	if (rc && !sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* The file is made 0600 before SQLite sees it: it holds sealed person keys
 * and SQLite gives its -wal and -shm files the main file's mode. */
/* The file exists with mode 0600 (made so when missing). It is never
 * opened here when it exists: closing any descriptor of a file drops every
 * POSIX lock this process holds on it, and SQLite's locks on the database
 * (which keep another process from checkpointing the WAL away under the
 * server) are such locks. */
static int prepare_file(struct sq_store *q, const char *path,
			struct st_error *err)
{
	struct stat sb;
	if (lstat(path, &sb) != 0) {
		if (errno != ENOENT)
			return st_fail(err, st_errno(errno), "store %s: stat: %s",
				       q->path, strerror(errno));
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
					    O_NOFOLLOW,
			      0600);
		if (fd < 0 && errno != EEXIST)
			return st_fail(err, st_errno(errno),
				       "store %s: cannot create: %s; check the "
				       "folder exists and is writable",
				       q->path, strerror(errno));
		if (fd >= 0)
			close(fd); /* new and empty: nobody holds a lock */
		if (lstat(path, &sb) != 0)
			return st_fail(err, st_errno(errno), "store %s: stat: %s",
				       q->path, strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		return st_fail(err, ST_E_INVAL, "store %s: not a regular file",
			       q->path);
	if (sb.st_mode & 077)
		return st_fail(err, ST_E_KEY_MODE,
			       "store %s: mode %04o lets others read sealed "
			       "keys; run chmod 600 %s",
			       q->path, (unsigned)(sb.st_mode & 07777), q->path);
	return 0;
}

static int sq_open(struct st_store *s, const struct st_store_cfg *cfg,
		   struct st_error *err)
{
	struct sq_store *q = SQ(s);
	q->clock = cfg->clock ? cfg->clock : &st_clock_system;
	if (!cfg->path || !*cfg->path)
		return st_fail(err, ST_E_INVAL, "store sqlite: no database path");
	size_t pl = strlen(cfg->path);
	if (pl < sizeof q->path) {
		memcpy(q->path, cfg->path, pl + 1);
	} else { /* keep the end, which names the file */
		memcpy(q->path, "...", 3);
		memcpy(q->path + 3, cfg->path + pl - (sizeof q->path - 4),
		       sizeof q->path - 3);
	}
	if (cfg->busy_ms < 0)
		return st_fail(err, ST_E_INVAL, "store %s: busy_ms %d < 0",
			       q->path, cfg->busy_ms);
	int rc = prepare_file(q, cfg->path, err);
	if (rc)
		return rc;
	int src = sqlite3_open_v2(cfg->path, &q->db,
				  SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					  SQLITE_OPEN_NOFOLLOW |
					  SQLITE_OPEN_NOMUTEX,
				  NULL);
	if (src != SQLITE_OK)
		return sq_fail(q, src, "open", err);
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db,
			     cfg->busy_ms ? cfg->busy_ms : ST_STORE_BUSY_MS_DEFAULT);
	/* No writable_schema tricks and no schema-defined functions. */
	sqlite3_db_config(q->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if ((rc = set_pragmas(q, err)) || (rc = migrate(q, err)))
		return rc;
	for (int i = 0; i < S_COUNT; i++) {
		src = sqlite3_prepare_v3(q->db, sql[i], -1,
					 SQLITE_PREPARE_PERSISTENT, &q->st[i],
					 NULL);
		if (src != SQLITE_OK)
			return sq_fail(q, src, "prepare", err);
	}
	q->ready = true;
	return 0;
}

static void sq_close(struct st_store *s)
{
	struct sq_store *q = SQ(s);
	q->ready = false;
	if (q->db && !sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	for (int i = 0; i < S_COUNT; i++) {
		sqlite3_finalize(q->st[i]);
		q->st[i] = NULL;
	}
	if (q->db)
		sqlite3_close_v2(q->db);
	q->db = NULL;
}

static bool sq_is_valid(const struct st_store *s)
{
	const struct sq_store *q = (const struct sq_store *)s;
	return q->ready && q->db;
}

static int sq_begin(struct st_store *s, struct st_error *err)
{
	return run(SQ(s), S_BEGIN, "begin", err);
}

static int sq_begin_read(struct st_store *s, struct st_error *err)
{
	return run(SQ(s), S_BEGIN_READ, "begin read", err);
}

static int sq_commit(struct st_store *s, struct st_error *err)
{
	return run(SQ(s), S_COMMIT, "commit", err);
}

static int sq_rollback(struct st_store *s, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	if (sqlite3_get_autocommit(q->db))
		return 0; /* SQLite already rolled it back (or it committed) */
	return run(q, S_ROLLBACK, "rollback", err);
}

/* ---- people ---- */

static int sq_person_add(struct st_store *s, const struct st_person *p,
			 struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PERSON_ADD];
	BLOB(st, 1, p->id, 16);
	TEXT(st, 2, p->name);
	TEXT(st, 3, p->group);
	BLOB(st, 4, p->public_key, 32);
	if (p->erased)
		sqlite3_bind_null(st, 5);
	else
		BLOB(st, 5, p->sealed_secret, ST_STORE_SEALED_SK_LEN);
	I64(st, 6, p->erased ? 1 : 0);
	I64(st, 7, p->created_s);
	return run(q, S_PERSON_ADD, "person add", err);
}

static bool read_person(sqlite3_stmt *st, struct st_person *p)
{
	memset(p, 0, sizeof *p);
	if (!col_blob(st, 0, p->id, 16) ||
	    !col_text(st, 1, p->name, ST_STORE_NAME_MAX) ||
	    !col_text(st, 2, p->group, ST_STORE_GROUP_MAX) ||
	    !col_blob(st, 3, p->public_key, 32))
		return false;
	p->erased = sqlite3_column_int64(st, 5) != 0;
	if (!p->erased &&
	    !col_blob(st, 4, p->sealed_secret, ST_STORE_SEALED_SK_LEN))
		return false;
	p->created_s = sqlite3_column_int64(st, 6);
	return true;
}

static int sq_person_get(struct st_store *s, const uint8_t id[16],
			 struct st_person *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PERSON_GET];
	BLOB(st, 1, id, 16);
	int rc = sqlite3_step(st);
	int ret = 0;
	char hex[33];
	if (rc == SQLITE_ROW) {
		if (!read_person(st, out))
			ret = corrupt(q, "person get", err);
	} else if (rc == SQLITE_DONE) {
		st_store_id_hex(id, hex);
		ret = st_fail(err, ST_E_NOT_FOUND, "person %s: not found", hex);
	} else {
		ret = sq_fail(q, rc, "person get", err);
	}
	done(st);
	return ret;
}

static int sq_person_list(struct st_store *s, const uint8_t *after,
			  size_t limit, st_store_person_cb cb, void *ctx,
			  struct st_error *err)
{
	struct sq_store *q = SQ(s);
	enum stmt_id id = after ? S_PERSON_LIST_AFTER : S_PERSON_LIST;
	sqlite3_stmt *st = q->st[id];
	I64(st, 1, limit);
	if (after)
		BLOB(st, 2, after, 16);
	int rc, ret = 0;
	struct st_person p;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!read_person(st, &p)) {
			ret = corrupt(q, "person list", err);
			break;
		}
		int c = cb(ctx, &p);
		if (c != 0) {
			ret = c < 0 ? st_fail(err, c, "person list: stopped "
						       "by the caller: %s",
					      st_strerror(c))
				    : 0;
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "person list", err);
	done(st);
	return ret;
}

/* ---- devices ---- */

static int sq_device_add(struct st_store *s, const struct st_device *d,
			 struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_DEVICE_ADD];
	BLOB(st, 1, d->id, 16);
	BLOB(st, 2, d->person_id, 16);
	BLOB(st, 3, d->public_key, 32);
	I64(st, 4, d->active ? 1 : 0);
	I64(st, 5, d->enrolled_s);
	I64(st, 6, d->last_seen_s);
	TEXT(st, 7, d->local_user);
	TEXT(st, 8, d->hostname);
	I64(st, 9, d->backlog_segments); /* <= INT64_MAX: the front checks */
	I64(st, 10, d->backlog_bytes);
	I64(st, 11, d->backlog_s);
	return run(q, S_DEVICE_ADD, "device add", err);
}

/* Reads the DEVICE_COLS columns. */
static bool read_device(sqlite3_stmt *st, struct st_device *d)
{
	memset(d, 0, sizeof *d);
	if (!col_blob(st, 0, d->id, 16) || !col_blob(st, 1, d->person_id, 16) ||
	    !col_blob(st, 2, d->public_key, 32) ||
	    !col_text(st, 6, d->local_user, ST_STORE_USER_MAX) ||
	    !col_text(st, 7, d->hostname, ST_STORE_HOST_MAX))
		return false;
	sqlite3_int64 bs = sqlite3_column_int64(st, 8);
	sqlite3_int64 bb = sqlite3_column_int64(st, 9);
	if (bs < 0 || bb < 0)
		return false;
	d->active = sqlite3_column_int64(st, 3) != 0;
	d->enrolled_s = sqlite3_column_int64(st, 4);
	d->last_seen_s = sqlite3_column_int64(st, 5);
	d->backlog_segments = (uint64_t)bs;
	d->backlog_bytes = (uint64_t)bb;
	d->backlog_s = sqlite3_column_int64(st, 10);
	return true;
}

static int sq_device_get(struct st_store *s, const uint8_t id[16],
			 struct st_device *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_DEVICE_GET];
	BLOB(st, 1, id, 16);
	int rc = sqlite3_step(st);
	int ret = 0;
	char hex[33];
	if (rc == SQLITE_ROW) {
		if (!read_device(st, out))
			ret = corrupt(q, "device get", err);
	} else if (rc == SQLITE_DONE) {
		st_store_id_hex(id, hex);
		ret = st_fail(err, ST_E_NOT_FOUND, "device %s: not found", hex);
	} else {
		ret = sq_fail(q, rc, "device get", err);
	}
	done(st);
	return ret;
}

/* Runs an UPDATE of one device; ST_E_NOT_FOUND when no row matched. */
static int update_device(struct sq_store *q, enum stmt_id id,
			 const uint8_t dev[16], const char *what,
			 struct st_error *err)
{
	int rc = run(q, id, what, err);
	if (rc == 0 && sqlite3_changes(q->db) == 0) {
		char hex[33];
		st_store_id_hex(dev, hex);
		return st_fail(err, ST_E_NOT_FOUND, "device %s: not found", hex);
	}
	return rc;
}

static int sq_device_set_active(struct st_store *s, const uint8_t id[16],
				bool active, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_DEVICE_SET_ACTIVE];
	BLOB(st, 1, id, 16);
	I64(st, 2, active ? 1 : 0);
	return update_device(q, S_DEVICE_SET_ACTIVE, id, "device set active",
			     err);
}

static int sq_device_touch(struct st_store *s, const uint8_t id[16],
			   int64_t now, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_DEVICE_TOUCH];
	BLOB(st, 1, id, 16);
	I64(st, 2, now);
	return update_device(q, S_DEVICE_TOUCH, id, "device touch", err);
}

/* ---- policies and acceptances ---- */

static int sq_policy_put(struct st_store *s, const struct st_store_policy *p,
			 struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_POLICY_FIND];
	BLOB(st, 1, p->hash, 32);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		uint8_t nh[32];
		bool same = col_blob(st, 0, nh, 32) &&
			    memcmp(nh, p->notice_hash, 32) == 0;
		done(st);
		if (!same)
			return st_fail(err, ST_E_EXISTS,
				       "store %s: policy put: this policy is "
				       "stored with another notice; render the "
				       "notice with this build's renderer",
				       q->path);
		return 0; /* the same policy again */
	}
	done(st);
	if (rc != SQLITE_DONE)
		return sq_fail(q, rc, "policy put", err);
	st = q->st[S_POLICY_ADD];
	BLOB(st, 1, p->hash, 32);
	sqlite3_bind_text(st, 2, p->json, (int)p->json_len, SQLITE_STATIC);
	BLOB(st, 3, p->notice, p->notice_len);
	BLOB(st, 4, p->notice_hash, 32);
	I64(st, 5, p->created_s);
	return run(q, S_POLICY_ADD, "policy put", err);
}

/* Reads the POLICY_COLS columns into one allocation owned by out. */
static int read_policy(struct sq_store *q, sqlite3_stmt *st,
		       struct st_store_policy *out, const char *what,
		       struct st_error *err)
{
	const void *j = sqlite3_column_text(st, 1);
	size_t jl = (size_t)sqlite3_column_bytes(st, 1);
	const void *n = sqlite3_column_blob(st, 2);
	size_t nl = (size_t)sqlite3_column_bytes(st, 2);
	if (!j || !n || jl > ST_STORE_POLICY_JSON_MAX ||
	    nl > ST_STORE_NOTICE_MAX || !col_blob(st, 0, out->hash, 32) ||
	    !col_blob(st, 3, out->notice_hash, 32))
		return corrupt(q, what, err);
	uint8_t *m = malloc(jl + 1 + nl);
	if (!m)
		return st_fail(err, ST_E_NOMEM, "%s: out of memory", what);
	memcpy(m, j, jl);
	m[jl] = 0;
	memcpy(m + jl + 1, n, nl);
	out->owned_ = m;
	out->json = (const char *)m;
	out->json_len = jl;
	out->notice = m + jl + 1;
	out->notice_len = nl;
	out->created_s = sqlite3_column_int64(st, 4);
	return 0;
}

static int sq_policy_get(struct st_store *s, const uint8_t nh[32],
			 struct st_store_policy *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_POLICY_GET];
	BLOB(st, 1, nh, 32);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		ret = read_policy(q, st, out, "policy get", err);
	} else if (rc == SQLITE_DONE) {
		ret = st_fail(err, ST_E_NOT_FOUND,
			      "policy: no policy has this notice hash");
	} else {
		ret = sq_fail(q, rc, "policy get", err);
	}
	done(st);
	return ret;
}

static int sq_acceptance_add(struct st_store *s, const struct st_acceptance *a,
			     struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_ACCEPT_ADD];
	BLOB(st, 1, a->person_id, 16);
	BLOB(st, 2, a->device_id, 16);
	BLOB(st, 3, a->notice_hash, 32);
	TEXT(st, 4, a->local_user);
	I64(st, 5, a->accepted_s);
	return run(q, S_ACCEPT_ADD, "acceptance add", err);
}

static int sq_acceptance_has(struct st_store *s, const uint8_t person[16],
			     const uint8_t device[16], const uint8_t nh[32],
			     bool *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_ACCEPT_HAS];
	BLOB(st, 1, person, 16);
	BLOB(st, 2, device, 16);
	BLOB(st, 3, nh, 32);
	int rc = sqlite3_step(st);
	done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(q, rc, "acceptance has", err);
	*out = rc == SQLITE_ROW;
	return 0;
}

/* ---- segments and flags ---- */

static int sq_segment_put(struct st_store *s, const struct st_store_segment *g,
			  int *outcome, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_SEG_FIND];
	BLOB(st, 1, g->device_id, 16);
	I64(st, 2, g->seq);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		/* Exactly-once: equal bytes are the same upload again. */
		bool same =
			(size_t)sqlite3_column_bytes(st, 0) == ST_STORE_HEADER_LEN &&
			(size_t)sqlite3_column_bytes(st, 1) == g->body_len &&
			memcmp(sqlite3_column_blob(st, 0), g->header,
			       ST_STORE_HEADER_LEN) == 0 &&
			memcmp(sqlite3_column_blob(st, 1), g->body,
			       g->body_len) == 0;
		done(st);
		if (same) {
			*outcome = ST_STORE_DUPLICATE;
			return 0;
		}
		st = q->st[S_FLAG_ADD];
		BLOB(st, 1, g->device_id, 16);
		I64(st, 2, g->seq);
		BLOB(st, 3, g->header, ST_STORE_HEADER_LEN);
		I64(st, 4, g->received_s);
		rc = run(q, S_FLAG_ADD, "conflict flag", err);
		if (rc == 0)
			*outcome = ST_STORE_CONFLICT;
		return rc;
	}
	done(st);
	if (rc != SQLITE_DONE)
		return sq_fail(q, rc, "segment put", err);
	st = q->st[S_SEG_ADD];
	BLOB(st, 1, g->device_id, 16);
	I64(st, 2, g->seq);
	BLOB(st, 3, g->person_id, 16);
	BLOB(st, 4, g->header, ST_STORE_HEADER_LEN);
	BLOB(st, 5, g->body, g->body_len);
	I64(st, 6, g->t_start_min);
	I64(st, 7, g->t_end_min);
	I64(st, 8, g->lease_seq);
	I64(st, 9, g->level);
	I64(st, 10, g->kinds);
	BLOB(st, 11, g->notice_hash, 32);
	I64(st, 12, g->received_s);
	rc = run(q, S_SEG_ADD, "segment put", err);
	if (rc == 0)
		*outcome = ST_STORE_STORED;
	return rc;
}

/* Reads the SEG_META columns. */
static bool read_meta(sqlite3_stmt *st, struct st_store_segment *g)
{
	memset(g, 0, sizeof *g);
	if (!col_blob(st, 0, g->device_id, 16) ||
	    !col_blob(st, 1, g->person_id, 16) ||
	    !col_blob(st, 8, g->notice_hash, 32))
		return false;
	sqlite3_int64 seq = sqlite3_column_int64(st, 2);
	sqlite3_int64 lease = sqlite3_column_int64(st, 3);
	sqlite3_int64 a = sqlite3_column_int64(st, 4);
	sqlite3_int64 b = sqlite3_column_int64(st, 5);
	sqlite3_int64 lv = sqlite3_column_int64(st, 6);
	sqlite3_int64 k = sqlite3_column_int64(st, 7);
	if (seq < 0 || lease < 0 || a < 0 || a > UINT32_MAX || b < 0 ||
	    b > UINT32_MAX || lv < 1 || lv > 3 || k < 0 || k > UINT32_MAX)
		return false;
	g->seq = (uint64_t)seq;
	g->lease_seq = (uint64_t)lease;
	g->t_start_min = (uint32_t)a;
	g->t_end_min = (uint32_t)b;
	g->level = (uint8_t)lv;
	g->kinds = (uint32_t)k;
	g->received_s = sqlite3_column_int64(st, 9);
	g->body_len = (size_t)sqlite3_column_int64(st, 10);
	return true;
}

static int sq_segment_get(struct st_store *s, const uint8_t device[16],
			  uint64_t seq, struct st_store_segment *out,
			  struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_SEG_GET];
	BLOB(st, 1, device, 16);
	I64(st, 2, seq);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		size_t hl = (size_t)sqlite3_column_bytes(st, 11);
		const void *h = sqlite3_column_blob(st, 11);
		size_t bl = (size_t)sqlite3_column_bytes(st, 12);
		const void *b = sqlite3_column_blob(st, 12);
		if (!read_meta(st, out) || hl != ST_STORE_HEADER_LEN || !h ||
		    !b || bl != out->body_len || bl > ST_STORE_BODY_MAX) {
			ret = corrupt(q, "segment get", err);
		} else {
			uint8_t *m = malloc(hl + bl);
			if (!m) {
				ret = st_fail(err, ST_E_NOMEM,
					      "segment get: out of memory");
			} else {
				memcpy(m, h, hl);
				memcpy(m + hl, b, bl);
				out->owned_ = m;
				out->header = m;
				out->body = m + hl;
			}
		}
	} else if (rc == SQLITE_DONE) {
		char hex[33];
		st_store_id_hex(device, hex);
		ret = st_fail(err, ST_E_NOT_FOUND,
			      "segment %llu of device %s: not found",
			      (unsigned long long)seq, hex);
	} else {
		ret = sq_fail(q, rc, "segment get", err);
	}
	done(st);
	return ret;
}

static int sq_segment_list(struct st_store *s, const uint8_t device[16],
			   uint64_t after_seq, size_t limit,
			   st_store_segment_cb cb, void *ctx,
			   struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_SEG_LIST];
	BLOB(st, 1, device, 16);
	I64(st, 2, after_seq);
	I64(st, 3, limit);
	int rc, ret = 0;
	struct st_store_segment g;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!read_meta(st, &g)) {
			ret = corrupt(q, "segment list", err);
			break;
		}
		int c = cb(ctx, &g);
		if (c != 0) {
			ret = c < 0 ? st_fail(err, c, "segment list: stopped "
						       "by the caller: %s",
					      st_strerror(c))
				    : 0;
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "segment list", err);
	done(st);
	return ret;
}

static int sq_segment_count(struct st_store *s, const uint8_t *device,
			    uint64_t *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	enum stmt_id id = device ? S_SEG_COUNT_DEV : S_SEG_COUNT;
	sqlite3_stmt *st = q->st[id];
	if (device)
		BLOB(st, 1, device, 16);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	done(st);
	return rc == SQLITE_ROW ? 0 : sq_fail(q, rc, "segment count", err);
}

static int sq_flag_list(struct st_store *s, int64_t after_id, size_t limit,
			st_store_flag_cb cb, void *ctx, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_FLAG_LIST];
	I64(st, 1, after_id);
	I64(st, 2, limit);
	int rc, ret = 0;
	struct st_store_flag f;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&f, 0, sizeof f);
		f.id = sqlite3_column_int64(st, 0);
		size_t el = (size_t)sqlite3_column_bytes(st, 4);
		const void *e = sqlite3_column_blob(st, 4);
		sqlite3_int64 seq = sqlite3_column_int64(st, 3);
		if (!col_text(st, 1, f.kind, sizeof f.kind - 1) ||
		    !col_blob(st, 2, f.device_id, 16) || seq < 0 ||
		    el > sizeof f.evidence || (el && !e)) {
			ret = corrupt(q, "flag list", err);
			break;
		}
		f.seq = (uint64_t)seq;
		if (el)
			memcpy(f.evidence, e, el);
		f.evidence_len = el;
		f.created_s = sqlite3_column_int64(st, 5);
		int c = cb(ctx, &f);
		if (c != 0) {
			ret = c < 0 ? st_fail(err, c, "flag list: stopped by "
						       "the caller: %s",
					      st_strerror(c))
				    : 0;
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "flag list", err);
	done(st);
	return ret;
}

/* ---- schema 2: people by name, device lists, tokens, enrollment,
 * current policy, forget, backup, counts ---- */

/* What a list callback's answer makes of the list call. */
static int cb_answer(int c, const char *what, struct st_error *err)
{
	if (c < 0)
		return st_fail(err, c, "%s: stopped by the caller: %s", what,
			       st_strerror(c));
	return 0;
}

static int sq_person_find(struct st_store *s, const char *name,
			  struct st_person *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PERSON_FIND];
	TEXT(st, 1, name);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		if (!read_person(st, out))
			ret = corrupt(q, "person find", err);
	} else if (rc == SQLITE_DONE) {
		/* the name is personal data: the caller has it already */
		ret = st_fail(err, ST_E_NOT_FOUND,
			      "person: no one by that name; see `sealtrace "
			      "user list`");
	} else {
		ret = sq_fail(q, rc, "person find", err);
	}
	done(st);
	return ret;
}

static int sq_device_list(struct st_store *s, const uint8_t *after,
			  size_t limit, st_store_device_cb cb, void *ctx,
			  struct st_error *err)
{
	struct sq_store *q = SQ(s);
	enum stmt_id id = after ? S_DEVICE_LIST_AFTER : S_DEVICE_LIST;
	sqlite3_stmt *st = q->st[id];
	I64(st, 1, limit);
	if (after)
		BLOB(st, 2, after, 16);
	int rc, ret = 0;
	struct st_device d;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!read_device(st, &d)) {
			ret = corrupt(q, "device list", err);
			break;
		}
		int c = cb(ctx, &d);
		if (c != 0) {
			ret = cb_answer(c, "device list", err);
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "device list", err);
	done(st);
	return ret;
}

static int sq_device_backlog(struct st_store *s, const uint8_t id[16],
			     uint64_t segments, uint64_t bytes, int64_t now,
			     struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_DEVICE_BACKLOG];
	BLOB(st, 1, id, 16);
	I64(st, 2, segments); /* <= INT64_MAX: the front checks */
	I64(st, 3, bytes);
	I64(st, 4, now);
	return update_device(q, S_DEVICE_BACKLOG, id, "device backlog", err);
}

static int sq_device_stats(struct st_store *s, const uint8_t id[16],
			   struct st_device_stats *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_DEVICE_STATS];
	BLOB(st, 1, id, 16);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		sqlite3_int64 n = sqlite3_column_int64(st, 0);
		sqlite3_int64 b = sqlite3_column_int64(st, 1);
		sqlite3_int64 mx = sqlite3_column_int64(st, 2);
		sqlite3_int64 pos = sqlite3_column_int64(st, 3);
		/* UNIQUE(device_id, seq): at most mx stored in 1..mx */
		if (n < 0 || b < 0 || mx < 0 || pos < 0 || pos > mx ||
		    pos > n) {
			ret = corrupt(q, "device stats", err);
		} else {
			out->segments = (uint64_t)n;
			out->bytes = (uint64_t)b;
			out->max_seq = (uint64_t)mx;
			out->gaps = (uint64_t)(mx - pos);
		}
	} else if (rc == SQLITE_DONE) {
		char hex[33];
		st_store_id_hex(id, hex);
		ret = st_fail(err, ST_E_NOT_FOUND, "device %s: not found", hex);
	} else {
		ret = sq_fail(q, rc, "device stats", err);
	}
	done(st);
	return ret;
}

/* Reads the TOKEN_COLS columns. */
static bool read_token(sqlite3_stmt *st, struct st_token *t)
{
	memset(t, 0, sizeof *t);
	if (!col_blob(st, 0, t->id, 16) ||
	    !col_text(st, 1, t->name, ST_STORE_TOKEN_NAME_MAX) ||
	    !col_text(st, 2, t->role, ST_STORE_ROLE_MAX) ||
	    !col_blob(st, 3, t->hash, 32))
		return false;
	t->created_s = sqlite3_column_int64(st, 4);
	t->expires_s = sqlite3_column_int64(st, 5);
	t->revoked = sqlite3_column_int64(st, 6) != 0;
	if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
		if (!col_blob(st, 7, t->person_id, 16))
			return false;
		t->has_person = true;
	}
	return true;
}

static int sq_token_add(struct st_store *s, const struct st_token *t,
			struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_TOKEN_ADD];
	BLOB(st, 1, t->id, 16);
	TEXT(st, 2, t->name);
	TEXT(st, 3, t->role);
	BLOB(st, 4, t->hash, 32);
	I64(st, 5, t->created_s);
	I64(st, 6, t->expires_s);
	I64(st, 7, t->revoked ? 1 : 0);
	if (t->has_person)
		BLOB(st, 8, t->person_id, 16);
	else
		sqlite3_bind_null(st, 8);
	return run(q, S_TOKEN_ADD, "token add", err);
}

static int sq_token_find(struct st_store *s, const uint8_t hash[32],
			 struct st_token *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_TOKEN_FIND];
	BLOB(st, 1, hash, 32);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		if (!read_token(st, out))
			ret = corrupt(q, "token find", err);
	} else if (rc == SQLITE_DONE) {
		ret = st_fail(err, ST_E_NOT_FOUND,
			      "API token: not found; check the token, or ask an "
			      "administrator for one");
	} else {
		ret = sq_fail(q, rc, "token find", err);
	}
	done(st);
	return ret;
}

static int sq_token_list(struct st_store *s, st_store_token_cb cb, void *ctx,
			 struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_TOKEN_LIST];
	/* one row more than the cap tells "too many" from "exactly the cap" */
	I64(st, 1, ST_STORE_LIST_MAX + 1);
	int rc, ret = 0;
	size_t n = 0;
	struct st_token t;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (++n > ST_STORE_LIST_MAX) {
			ret = st_fail(err, ST_E_CAP,
				      "store %s: token list: more than %d "
				      "tokens; list them with a paged query",
				      q->path, ST_STORE_LIST_MAX);
			break;
		}
		if (!read_token(st, &t)) {
			ret = corrupt(q, "token list", err);
			break;
		}
		int c = cb(ctx, &t);
		if (c != 0) {
			ret = cb_answer(c, "token list", err);
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "token list", err);
	done(st);
	return ret;
}

static int sq_token_revoke(struct st_store *s, const char *name,
			   struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_TOKEN_REVOKE];
	TEXT(st, 1, name);
	int rc = run(q, S_TOKEN_REVOKE, "token revoke", err);
	/* changes() counts matched rows, so a second revoke is still 1 */
	if (rc == 0 && sqlite3_changes(q->db) == 0)
		return st_fail(err, ST_E_NOT_FOUND,
			       "API token: no token by that name; see "
			       "`sealtrace token list`");
	return rc;
}

static int sq_enroll_token_add(struct st_store *s,
			       const struct st_enroll_token *t,
			       struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_ENROLL_ADD];
	BLOB(st, 1, t->hash, 32);
	BLOB(st, 2, t->person_id, 16);
	I64(st, 3, t->created_s);
	I64(st, 4, t->expires_s);
	return run(q, S_ENROLL_ADD, "enrollment token add", err);
}

static int sq_enroll_token_get(struct st_store *s, const uint8_t hash[32],
			       struct st_enroll_token *out,
			       struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_ENROLL_GET];
	BLOB(st, 1, hash, 32);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof *out);
		bool used = sqlite3_column_type(st, 5) != SQLITE_NULL;
		if (!col_blob(st, 0, out->hash, 32) ||
		    !col_blob(st, 1, out->person_id, 16) ||
		    (used && !col_blob(st, 5, out->device_id, 16))) {
			ret = corrupt(q, "enrollment token get", err);
		} else {
			out->created_s = sqlite3_column_int64(st, 2);
			out->expires_s = sqlite3_column_int64(st, 3);
			out->used_s = sqlite3_column_int64(st, 4);
			if (used != (out->used_s != 0))
				ret = corrupt(q, "enrollment token get", err);
		}
	} else if (rc == SQLITE_DONE) {
		ret = st_fail(err, ST_E_NOT_FOUND, "enrollment token: unknown");
	} else {
		ret = sq_fail(q, rc, "enrollment token get", err);
	}
	done(st);
	return ret;
}

static int sq_enroll_token_use(struct st_store *s, const uint8_t hash[32],
			       const uint8_t device[16], int64_t now,
			       struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_ENROLL_USE];
	BLOB(st, 1, hash, 32);
	I64(st, 2, now);
	BLOB(st, 3, device, 16);
	int rc = run(q, S_ENROLL_USE, "enrollment token use", err);
	if (rc == 0 && sqlite3_changes(q->db) != 1)
		return st_fail(err, ST_E_TOKEN_USED,
			       "enrollment token: already used or unknown; ask "
			       "an administrator for a new one");
	return rc;
}

static int sq_policy_set_current(struct st_store *s, const uint8_t hash[32],
				 int64_t now, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_POLICY_APPLY];
	BLOB(st, 1, hash, 32);
	I64(st, 2, now);
	int rc = run(q, S_POLICY_APPLY, "policy set current", err);
	if (rc)
		return rc;
	if (sqlite3_changes(q->db) == 0)
		return st_fail(err, ST_E_NOT_FOUND,
			       "policy: no stored policy has this hash; put the "
			       "policy before making it current");
	st = q->st[S_SETTING_PUT];
	TEXT(st, 1, "current_policy");
	BLOB(st, 2, hash, 32);
	return run(q, S_SETTING_PUT, "policy set current", err);
}

static int sq_policy_get_current(struct st_store *s,
				 struct st_store_policy *out,
				 struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_POLICY_CURRENT];
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		ret = read_policy(q, st, out, "policy get current", err);
		if (ret == 0)
			out->applied_s = sqlite3_column_int64(st, 5);
	} else if (rc == SQLITE_DONE) {
		ret = st_fail(err, ST_E_NOT_FOUND,
			      "policy: no current policy; apply one with "
			      "`sealtrace policy apply FILE`");
	} else {
		ret = sq_fail(q, rc, "policy get current", err);
	}
	done(st);
	return ret;
}

static int sq_forget(struct st_store *s, const struct st_forget *f,
		     uint64_t *deleted, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	char hex[33];
	/* the same request again: the first answer, nothing deleted */
	sqlite3_stmt *st = q->st[S_FORGET_GET];
	BLOB(st, 1, f->device_id, 16);
	BLOB(st, 2, f->request_id, 16);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sqlite3_int64 n = sqlite3_column_int64(st, 0);
		done(st);
		if (n < 0)
			return corrupt(q, "forget", err);
		*deleted = (uint64_t)n;
		return 0;
	}
	done(st);
	if (rc != SQLITE_DONE)
		return sq_fail(q, rc, "forget", err);
	st = q->st[S_DEVICE_EXISTS];
	BLOB(st, 1, f->device_id, 16);
	rc = sqlite3_step(st);
	done(st);
	if (rc == SQLITE_DONE) {
		st_store_id_hex(f->device_id, hex);
		return st_fail(err, ST_E_NOT_FOUND, "forget: device %s: not found",
			       hex);
	}
	if (rc != SQLITE_ROW)
		return sq_fail(q, rc, "forget", err);
	st = q->st[S_FORGET_DELETE];
	BLOB(st, 1, f->device_id, 16);
	I64(st, 2, f->from_min);
	I64(st, 3, f->to_min);
	if ((rc = run(q, S_FORGET_DELETE, "forget", err)))
		return rc;
	sqlite3_int64 n = sqlite3_changes64(q->db);
	st = q->st[S_FORGET_ADD];
	BLOB(st, 1, f->device_id, 16);
	BLOB(st, 2, f->request_id, 16);
	I64(st, 3, f->from_min);
	I64(st, 4, f->to_min);
	I64(st, 5, f->received_s);
	I64(st, 6, n);
	if ((rc = run(q, S_FORGET_ADD, "forget", err)))
		return rc;
	*deleted = (uint64_t)n;
	return 0;
}

/* Copies the database, as one read snapshot, into a new file made 0600
 * here: the copy holds sealed person keys like the original. A failed
 * copy is removed, so a file at path is always a whole backup. */
static int sq_checkpoint(struct st_store *s, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	int log = 0, moved = 0;
	int rc = sqlite3_wal_checkpoint_v2(q->db, "main",
					   SQLITE_CHECKPOINT_TRUNCATE, &log,
					   &moved);
	if (rc != SQLITE_OK)
		return sq_fail(q, rc, "checkpoint", err);
	return 0;
}

static int sq_backup(struct st_store *s, const char *path,
		     struct st_error *err)
{
	struct sq_store *q = SQ(s);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	if (fd < 0) {
		int e = errno;
		if (e == EEXIST)
			return st_fail(err, ST_E_EXISTS,
				       "backup %s: already exists; a backup "
				       "never overwrites, choose a new name",
				       path);
		return st_fail(err, st_errno(e),
			       "backup %s: cannot create: %s; check the "
			       "folder exists and is writable",
			       path, strerror(e));
	}
	/* exactly 0600 whatever the umask: SQLite must be able to write it */
	int rc = fchmod(fd, 0600);
	int e = errno;
	close(fd);
	if (rc != 0) {
		unlink(path);
		return st_fail(err, st_errno(e), "backup %s: chmod: %s", path,
			       strerror(e));
	}
	sqlite3 *dst = NULL;
	int src = sqlite3_open_v2(path, &dst,
				  SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
				  NULL);
	const char *step = "open";
	if (src == SQLITE_OK) {
		step = "copy";
		sqlite3_backup *b = sqlite3_backup_init(dst, "main", q->db,
							"main");
		if (!b) {
			src = sqlite3_errcode(dst);
		} else {
			/* -1: every page in one step, so one read snapshot
			 * of the source (WAL lets ingest go on writing) */
			src = sqlite3_backup_step(b, -1);
			int frc = sqlite3_backup_finish(b);
			if (src == SQLITE_DONE)
				src = frc;
		}
	}
	/* the finer reason, when the destination handle recorded one */
	if (src != SQLITE_OK && dst && sqlite3_extended_errcode(dst) != SQLITE_OK)
		src = sqlite3_extended_errcode(dst);
	sqlite3_close_v2(dst);
	if (src == SQLITE_OK)
		return 0;
	unlink(path);
	const char *todo = (src & 0xff) == SQLITE_FULL
				   ? "; the disk is full, free space"
			   : (src & 0xff) == SQLITE_BUSY ||
					   (src & 0xff) == SQLITE_LOCKED
				   ? "; the database is busy, retry"
				   : "";
	return st_fail(err, ST_E_SQLITE_BASE - src, "backup %s: %s: %s%s",
		       path, step, sqlite3_errstr(src), todo);
}

static int sq_counts(struct st_store *s, struct st_store_counts *out,
		     struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_COUNTS];
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		uint64_t *const f[] = {
			&out->people,   &out->devices, &out->devices_active,
			&out->segments, &out->segment_bytes, &out->flags,
			&out->tokens,   &out->enroll_tokens_unused,
		};
		for (int i = 0; i < (int)(sizeof f / sizeof f[0]); i++) {
			sqlite3_int64 v = sqlite3_column_int64(st, i);
			if (v < 0) {
				ret = corrupt(q, "counts", err);
				break;
			}
			*f[i] = (uint64_t)v;
		}
	} else {
		ret = sq_fail(q, rc, "counts", err);
	}
	done(st);
	return ret;
}

/* ---- schema 3: the kill switch ---- */

static int sq_epoch_get(struct st_store *s, uint64_t *out,
			struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_EPOCH_GET];
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		sqlite3_int64 v = sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
		    v < ST_STORE_EPOCH_FIRST)
			ret = corrupt(q, "epoch get", err);
		else
			*out = (uint64_t)v;
	} else if (rc == SQLITE_DONE) {
		ret = corrupt(q, "epoch get", err);
	} else {
		ret = sq_fail(q, rc, "epoch get", err);
	}
	done(st);
	return ret;
}

/* Raises the epoch by one inside the open transaction. */
static int epoch_raise(struct sq_store *q, uint64_t *out, struct st_error *err)
{
	uint64_t e = 0;
	int rc = sq_epoch_get(&q->base, &e, err);
	if (rc)
		return rc;
	if (e >= INT64_MAX)
		return st_fail(err, ST_E_CAP, "store %s: epoch at 2^63-1",
			       q->path);
	sqlite3_stmt *st = q->st[S_EPOCH_SET];
	I64(st, 1, e + 1);
	if ((rc = run(q, S_EPOCH_SET, "epoch raise", err)))
		return rc;
	*out = e + 1;
	return 0;
}

static int sq_pause_add(struct st_store *s, struct st_pause *p,
			struct st_error *err)
{
	struct sq_store *q = SQ(s);
	uint64_t e = 0;
	int rc = epoch_raise(q, &e, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = q->st[S_PAUSE_ADD];
	TEXT(st, 1, st_scope_name(p->scope));
	TEXT(st, 2, p->value);
	I64(st, 3, e);
	TEXT(st, 4, p->reason);
	TEXT(st, 5, p->by);
	I64(st, 6, p->discard ? 1 : 0);
	I64(st, 7, p->created_s);
	if ((rc = run(q, S_PAUSE_ADD, "pause add", err)))
		return rc;
	p->id = (int64_t)sqlite3_last_insert_rowid(q->db);
	p->epoch = e;
	return 0;
}

static int sq_resume(struct st_store *s, const struct st_resume *r,
		     uint64_t *epoch, uint64_t *resumed, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	uint64_t e = 0;
	int rc = epoch_raise(q, &e, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = q->st[S_RESUME];
	TEXT(st, 1, st_scope_name(r->scope));
	TEXT(st, 2, r->value);
	I64(st, 3, e);
	I64(st, 4, r->resumed_s);
	TEXT(st, 5, r->by);
	TEXT(st, 6, r->reason);
	if ((rc = run(q, S_RESUME, "resume", err)))
		return rc;
	sqlite3_int64 n = sqlite3_changes64(q->db);
	if (n == 0) /* the front rolls the raised epoch back */
		return st_fail(err, ST_E_NOT_FOUND,
			       "resume: no pause of that scope is in force; "
			       "see `sealtrace status`");
	*epoch = e;
	*resumed = (uint64_t)n;
	return 0;
}

/* Reads the PAUSE_COLS columns. */
static bool read_pause(sqlite3_stmt *st, struct st_pause *p)
{
	memset(p, 0, sizeof *p);
	char scope[16];
	if (!col_text(st, 1, scope, sizeof scope - 1) ||
	    !col_text(st, 2, p->value, ST_STORE_SCOPE_VALUE_MAX) ||
	    !col_text(st, 4, p->reason, ST_STORE_REASON_MAX) ||
	    !col_text(st, 5, p->by, ST_STORE_TOKEN_NAME_MAX))
		return false;
	p->scope = st_scope_from_name(scope);
	p->id = sqlite3_column_int64(st, 0);
	sqlite3_int64 e = sqlite3_column_int64(st, 3);
	p->discard = sqlite3_column_int64(st, 6) != 0;
	p->created_s = sqlite3_column_int64(st, 7);
	if (!p->scope || e < 2)
		return false;
	p->epoch = (uint64_t)e;
	if (sqlite3_column_type(st, 8) != SQLITE_NULL) {
		sqlite3_int64 re = sqlite3_column_int64(st, 8);
		if (re <= e ||
		    !col_text(st, 10, p->resumed_by, ST_STORE_TOKEN_NAME_MAX) ||
		    !col_text(st, 11, p->resume_reason, ST_STORE_REASON_MAX))
			return false;
		p->resumed_epoch = (uint64_t)re;
		p->resumed_s = sqlite3_column_int64(st, 9);
	}
	return true;
}

static int sq_pause_list(struct st_store *s, bool in_force, int64_t after_id,
			 size_t limit, st_store_pause_cb cb, void *ctx,
			 struct st_error *err)
{
	struct sq_store *q = SQ(s);
	enum stmt_id id = in_force ? S_PAUSE_LIST_IN_FORCE : S_PAUSE_LIST;
	sqlite3_stmt *st = q->st[id];
	I64(st, 1, after_id);
	I64(st, 2, limit);
	int rc, ret = 0;
	struct st_pause p;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!read_pause(st, &p)) {
			ret = corrupt(q, "pause list", err);
			break;
		}
		int c = cb(ctx, &p);
		if (c != 0) {
			ret = cb_answer(c, "pause list", err);
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "pause list", err);
	done(st);
	return ret;
}

static int sq_pause_confirm(struct st_store *s, const uint8_t device[16],
			    uint64_t epoch, uint64_t last_seq, int64_t now,
			    bool *recorded, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_CONFIRM_ADD];
	BLOB(st, 1, device, 16);
	I64(st, 2, epoch);
	I64(st, 3, last_seq); /* <= INT64_MAX: the front checks */
	I64(st, 4, now);
	int rc = run(q, S_CONFIRM_ADD, "pause confirm", err);
	if (rc == ST_E_NOT_FOUND) {
		char hex[33];
		st_store_id_hex(device, hex);
		return st_fail(err, ST_E_NOT_FOUND,
			       "pause confirm: device %s or the pause of "
			       "epoch %llu is unknown",
			       hex, (unsigned long long)epoch);
	}
	if (rc == 0 && recorded)
		*recorded = sqlite3_changes(q->db) == 1;
	return rc;
}

static int sq_scope_devices(struct st_store *s, int scope, const char *value,
			    uint64_t *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_SCOPE_DEVICES];
	uint8_t id[16] = {0};
	size_t n = 0;
	bool dev = scope == ST_SCOPE_DEVICE &&
		   strlen(value) == 32 &&
		   sodium_hex2bin(id, sizeof id, value, 32, NULL, &n, NULL) ==
			   0 &&
		   n == 16;
	if (scope == ST_SCOPE_DEVICE && !dev)
		return 0; /* not an id: it covers nothing */
	I64(st, 1, scope);
	TEXT(st, 2, value);
	BLOB(st, 3, id, 16);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	done(st);
	return rc == SQLITE_ROW ? 0 : sq_fail(q, rc, "scope devices", err);
}

static int sq_pause_confirms_get(struct st_store *s, uint64_t epoch,
				 const uint8_t *after, size_t limit,
				 st_store_confirm_cb cb, void *ctx,
				 struct st_error *err)
{
	struct sq_store *q = SQ(s);
	enum stmt_id id = after ? S_CONFIRM_LIST_AFTER : S_CONFIRM_LIST;
	sqlite3_stmt *st = q->st[id];
	I64(st, 1, epoch);
	I64(st, 2, limit);
	if (after)
		BLOB(st, 3, after, 16);
	int rc, ret = 0;
	struct st_pause_confirm c;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&c, 0, sizeof c);
		sqlite3_int64 e = sqlite3_column_int64(st, 1);
		sqlite3_int64 ls = sqlite3_column_int64(st, 2);
		if (!col_blob(st, 0, c.device_id, 16) || e < 2 || ls < 0) {
			ret = corrupt(q, "pause confirms", err);
			break;
		}
		c.epoch = (uint64_t)e;
		c.last_seq = (uint64_t)ls;
		c.confirmed_s = sqlite3_column_int64(st, 3);
		int k = cb(ctx, &c);
		if (k != 0) {
			ret = cb_answer(k, "pause confirms", err);
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "pause confirms", err);
	done(st);
	return ret;
}

/* ---- schema 4: least privilege ---- */

/* Steps a statement expected to give one row; NOT_FOUND with msg when
 * none. The caller reads the row and calls done(). */
static int step_one(struct sq_store *q, sqlite3_stmt *st, const char *what,
		    const char *missing, struct st_error *err)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 0;
	int ret = rc == SQLITE_DONE
			  ? st_fail(err, ST_E_NOT_FOUND, "%s", missing)
			  : sq_fail(q, rc, what, err);
	done(st);
	return ret;
}

static int sq_setting_get(struct st_store *s, const char *key, uint8_t *out,
			  size_t cap, size_t *len, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_SETTING_GET];
	TEXT(st, 1, key);
	char miss[128];
	snprintf(miss, sizeof miss, "setting %s: not set", key);
	int rc = step_one(q, st, "setting get", miss, err);
	if (rc < 0)
		return rc;
	const void *v = sqlite3_column_blob(st, 0);
	size_t n = (size_t)sqlite3_column_bytes(st, 0);
	if (n > cap)
		rc = st_fail(err, ST_E_CAP, "setting %s: %zu bytes, over %zu",
			     key, n, cap);
	else {
		if (n)
			memcpy(out, v, n);
		*len = n;
	}
	done(st);
	return rc;
}

static int sq_setting_put(struct st_store *s, const char *key,
			  const uint8_t *val, size_t len, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_SETTING_PUT];
	TEXT(st, 1, key);
	BLOB(st, 2, val, len);
	return run(q, S_SETTING_PUT, "setting put", err);
}

static int sq_token_request_add(struct st_store *s, struct st_token_request *r,
				struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_TREQ_ADD];
	TEXT(st, 1, r->token_name);
	BLOB(st, 2, r->person_id, 16);
	TEXT(st, 3, r->role);
	I64(st, 4, r->expires_s);
	TEXT(st, 5, r->requested_by);
	I64(st, 6, r->created_s);
	int rc = run(q, S_TREQ_ADD, "token request add", err);
	if (rc == 0)
		r->id = sqlite3_last_insert_rowid(q->db);
	return rc;
}

static int sq_token_request_get(struct st_store *s, int64_t id,
				struct st_token_request *out,
				struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_TREQ_GET];
	I64(st, 1, id);
	char miss[96];
	snprintf(miss, sizeof miss,
		 "token request %lld: not found; see `sealtrace token list`",
		 (long long)id);
	int rc = step_one(q, st, "token request get", miss, err);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof *out);
	out->id = sqlite3_column_int64(st, 0);
	if (!col_text(st, 1, out->token_name, ST_STORE_TOKEN_NAME_MAX) ||
	    !col_blob(st, 2, out->person_id, 16) ||
	    !col_text(st, 3, out->role, ST_STORE_ROLE_MAX) ||
	    !col_text(st, 5, out->requested_by, ST_STORE_TOKEN_NAME_MAX))
		rc = corrupt(q, "token request get", err);
	out->expires_s = sqlite3_column_int64(st, 4);
	out->created_s = sqlite3_column_int64(st, 6);
	out->closed_s = sqlite3_column_int64(st, 7);
	done(st);
	return rc;
}

static int sq_token_request_close(struct st_store *s, int64_t id,
				  int64_t now_s, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_TREQ_CLOSE];
	I64(st, 1, id);
	I64(st, 2, now_s);
	int rc = run(q, S_TREQ_CLOSE, "token request close", err);
	if (rc == 0 && sqlite3_changes(q->db) != 1)
		return st_fail(err, ST_E_STATE,
			       "token request %lld: already decided",
			       (long long)id);
	return rc;
}

static bool read_purpose(sqlite3_stmt *st, struct st_purpose *p)
{
	memset(p, 0, sizeof *p);
	p->id = sqlite3_column_int64(st, 0);
	if (!col_text(st, 1, p->name, ST_STORE_PURPOSE_NAME_MAX) ||
	    !col_text(st, 2, p->description, ST_STORE_PURPOSE_DESC_MAX) ||
	    !col_text(st, 3, p->scope_json, ST_STORE_PURPOSE_JSON_MAX) ||
	    !col_text(st, 4, p->stewards_json, ST_STORE_PURPOSE_JSON_MAX) ||
	    !col_blob(st, 5, p->proposer, 16))
		return false;
	p->created_s = sqlite3_column_int64(st, 6);
	p->expires_s = sqlite3_column_int64(st, 7);
	p->state = (int)sqlite3_column_int64(st, 8);
	p->approved_s = sqlite3_column_int64(st, 9);
	p->revoked_s = sqlite3_column_int64(st, 10);
	return true;
}

static int sq_purpose_add(struct st_store *s, struct st_purpose *p,
			  struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PURPOSE_ADD];
	TEXT(st, 1, p->name);
	TEXT(st, 2, p->description);
	TEXT(st, 3, p->scope_json);
	TEXT(st, 4, p->stewards_json);
	BLOB(st, 5, p->proposer, 16);
	I64(st, 6, p->created_s);
	I64(st, 7, p->expires_s);
	int rc = run(q, S_PURPOSE_ADD, "purpose add", err);
	if (rc == 0) {
		p->id = sqlite3_last_insert_rowid(q->db);
		p->state = ST_PURPOSE_PROPOSED;
	}
	return rc;
}

static int sq_purpose_get(struct st_store *s, int64_t id,
			  struct st_purpose *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PURPOSE_GET];
	I64(st, 1, id);
	char miss[96];
	snprintf(miss, sizeof miss,
		 "purpose %lld: not found; see `sealtrace purpose list`",
		 (long long)id);
	int rc = step_one(q, st, "purpose get", miss, err);
	if (rc < 0)
		return rc;
	if (!read_purpose(st, out))
		rc = corrupt(q, "purpose get", err);
	done(st);
	return rc;
}

static int sq_purpose_list(struct st_store *s, st_store_purpose_cb cb,
			   void *ctx, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PURPOSE_LIST];
	I64(st, 1, ST_STORE_LIST_MAX + 1);
	int rc, ret = 0;
	size_t n = 0;
	struct st_purpose *p = malloc(sizeof *p);
	if (!p) {
		done(st);
		return st_fail(err, ST_E_NOMEM, "purpose list: out of memory");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (++n > ST_STORE_LIST_MAX) {
			ret = st_fail(err, ST_E_CAP,
				      "purpose list: more than %d purposes",
				      ST_STORE_LIST_MAX);
			break;
		}
		if (!read_purpose(st, p)) {
			ret = corrupt(q, "purpose list", err);
			break;
		}
		int c = cb(ctx, p);
		if (c != 0) {
			ret = cb_answer(c, "purpose list", err);
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "purpose list", err);
	done(st);
	free(p);
	return ret;
}

static int sq_purpose_approvers(struct st_store *s, int64_t id,
				uint8_t approvers[][16], size_t cap,
				size_t *count, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PAPPROVE_LIST];
	I64(st, 1, id);
	int rc, ret = 0;
	*count = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*count < cap &&
		    !col_blob(st, 0, approvers[*count], 16)) {
			ret = corrupt(q, "purpose approvers", err);
			break;
		}
		(*count)++;
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "purpose approvers", err);
	done(st);
	return ret;
}

static int sq_purpose_approve(struct st_store *s, int64_t id,
			      const uint8_t officer[16], int64_t now_s,
			      size_t *count, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PAPPROVE_ADD];
	I64(st, 1, id);
	BLOB(st, 2, officer, 16);
	I64(st, 3, now_s);
	int rc = run(q, S_PAPPROVE_ADD, "purpose approve", err);
	if (rc < 0)
		return rc;
	uint8_t tmp[8][16];
	return sq_purpose_approvers(s, id, tmp, 8, count, err);
}

static int sq_purpose_set_state(struct st_store *s, int64_t id, int state,
				int64_t now_s, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PURPOSE_STATE];
	I64(st, 1, id);
	I64(st, 2, state);
	I64(st, 3, now_s);
	int rc = run(q, S_PURPOSE_STATE, "purpose set state", err);
	if (rc == 0 && sqlite3_changes(q->db) != 1)
		return st_fail(err, ST_E_NOT_FOUND, "purpose %lld: not found",
			       (long long)id);
	return rc;
}

static bool read_audit(sqlite3_stmt *st, struct st_store_audit *e)
{
	memset(e, 0, sizeof *e);
	sqlite3_int64 seq = sqlite3_column_int64(st, 0);
	if (seq < 1)
		return false;
	e->seq = (uint64_t)seq;
	e->time_s = sqlite3_column_int64(st, 1);
	return col_text(st, 2, e->actor, ST_STORE_AUDIT_ACTOR_MAX) &&
	       col_text(st, 3, e->role, ST_STORE_AUDIT_ROLE_MAX) &&
	       col_text(st, 4, e->action, ST_STORE_AUDIT_ACTION_MAX) &&
	       col_text(st, 5, e->object, ST_STORE_AUDIT_OBJECT_MAX) &&
	       col_text(st, 6, e->purpose, ST_STORE_AUDIT_PURPOSE_MAX) &&
	       col_text(st, 7, e->result, ST_STORE_AUDIT_RESULT_MAX) &&
	       col_blob(st, 8, e->prev, 32) && col_blob(st, 9, e->hash, 32);
}

static int sq_audit_last(struct st_store *s, struct st_store_audit *out,
			 struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_AUDIT_LAST];
	int rc = step_one(q, st, "audit last", "audit log: empty", err);
	if (rc < 0)
		return rc;
	if (!read_audit(st, out))
		rc = corrupt(q, "audit last", err);
	done(st);
	return rc;
}

static int sq_audit_append(struct st_store *s, const struct st_store_audit *e,
			   struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_AUDIT_ADD];
	I64(st, 1, e->seq);
	I64(st, 2, e->time_s);
	TEXT(st, 3, e->actor);
	TEXT(st, 4, e->role);
	TEXT(st, 5, e->action);
	TEXT(st, 6, e->object);
	TEXT(st, 7, e->purpose);
	TEXT(st, 8, e->result);
	BLOB(st, 9, e->prev, 32);
	BLOB(st, 10, e->hash, 32);
	int rc = run(q, S_AUDIT_ADD, "audit append", err);
	if (rc == ST_E_EXISTS)
		return st_fail(err, ST_E_CONFLICT,
			       "audit append: entry %llu exists already",
			       (unsigned long long)e->seq);
	return rc;
}

static int sq_audit_list(struct st_store *s, uint64_t after, size_t limit,
			 const char *object, st_store_audit_cb cb, void *ctx,
			 struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[object ? S_AUDIT_LIST_OBJ : S_AUDIT_LIST];
	I64(st, 1, after);
	I64(st, 2, limit);
	if (object)
		TEXT(st, 3, object);
	int rc, ret = 0;
	struct st_store_audit e;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!read_audit(st, &e)) {
			ret = corrupt(q, "audit list", err);
			break;
		}
		int c = cb(ctx, &e);
		if (c != 0) {
			ret = cb_answer(c, "audit list", err);
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "audit list", err);
	done(st);
	return ret;
}

static int sq_checkpoint_add(struct st_store *s,
			     const struct st_store_checkpoint *c,
			     struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_CKPT_ADD];
	I64(st, 1, c->size);
	BLOB(st, 2, c->root, 32);
	I64(st, 3, c->time_s);
	BLOB(st, 4, c->key_id, 8);
	BLOB(st, 5, c->sig, 64);
	return run(q, S_CKPT_ADD, "checkpoint add", err);
}

static int sq_checkpoint_last(struct st_store *s,
			      struct st_store_checkpoint *out,
			      struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_CKPT_LAST];
	int rc = step_one(q, st, "checkpoint last",
			  "audit log: no checkpoint yet", err);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof *out);
	out->size = (uint64_t)sqlite3_column_int64(st, 0);
	out->time_s = sqlite3_column_int64(st, 2);
	if (!col_blob(st, 1, out->root, 32) ||
	    !col_blob(st, 3, out->key_id, 8) || !col_blob(st, 4, out->sig, 64))
		rc = corrupt(q, "checkpoint last", err);
	done(st);
	return rc;
}

static int sq_pseudonym(struct st_store *s, const uint8_t person[16],
			bool create, char *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PSEUD_GET];
	BLOB(st, 1, person, 16);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int ret = col_text(st, 0, out, ST_STORE_PSEUDONYM_MAX)
				  ? 0
				  : corrupt(q, "pseudonym", err);
		done(st);
		return ret;
	}
	done(st);
	if (rc != SQLITE_DONE)
		return sq_fail(q, rc, "pseudonym", err);
	if (!create)
		return st_fail(err, ST_E_NOT_FOUND,
			       "person: no pseudonym (never in the audit log, "
			       "or erased)");
	uint8_t r[8];
	randombytes_buf(r, sizeof r);
	memcpy(out, "p-", 2);
	sodium_bin2hex(out + 2, 17, r, sizeof r);
	st = q->st[S_PSEUD_ADD];
	BLOB(st, 1, person, 16);
	TEXT(st, 2, out);
	return run(q, S_PSEUD_ADD, "pseudonym add", err);
}

static int sq_person_notices(struct st_store *s, const uint8_t person[16],
			     uint8_t out[][32], size_t cap, size_t *count,
			     struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PERSON_NOTICES];
	BLOB(st, 1, person, 16);
	I64(st, 2, cap);
	int rc, ret = 0;
	*count = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!col_blob(st, 0, out[*count], 32)) {
			ret = corrupt(q, "person notices", err);
			break;
		}
		(*count)++;
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "person notices", err);
	done(st);
	return ret;
}

static int sq_person_reseal(struct st_store *s, const uint8_t person[16],
			    const uint8_t *sealed, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PERSON_RESEAL];
	BLOB(st, 1, person, 16);
	BLOB(st, 2, sealed, ST_STORE_SEALED_SK_LEN);
	int rc = run(q, S_PERSON_RESEAL, "person reseal", err);
	if (rc == 0 && sqlite3_changes(q->db) != 1) {
		char hex[33];
		st_store_id_hex(person, hex);
		return st_fail(err, ST_E_NOT_FOUND,
			       "person %s: not found or erased", hex);
	}
	return rc;
}

/* Runs a one-person statement and adds the changed rows to *n. */
static int erase_step(struct sq_store *q, enum stmt_id id,
		      const uint8_t person[16], uint64_t *n,
		      struct st_error *err)
{
	BLOB(q->st[id], 1, person, 16);
	int rc = run(q, id, "person erase", err);
	if (rc == 0 && n)
		*n += (uint64_t)sqlite3_changes(q->db);
	return rc;
}

static int sq_person_erase(struct st_store *s, const uint8_t person[16],
			   int64_t now_s, const char *by,
			   struct st_erase_result *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	uint64_t erased = 0;
	/* The sealed secret first: the rest only tidies what it opened. */
	int rc = erase_step(q, S_ERASE_PERSON, person, &erased, err);
	if (rc < 0)
		return rc;
	if (erased != 1) {
		char hex[33];
		st_store_id_hex(person, hex);
		return st_fail(err, ST_E_ERASED,
			       "person %s: erased already (or unknown)", hex);
	}
	if ((rc = erase_step(q, S_ERASE_DEVICES, person,
			     &out->devices_revoked, err)) < 0 ||
	    (rc = erase_step(q, S_ERASE_SEGS, person,
			     &out->segments_deleted, err)) < 0 ||
	    (rc = erase_step(q, S_ERASE_ETOKENS, person,
			     &out->enroll_tokens_deleted, err)) < 0 ||
	    (rc = erase_step(q, S_ERASE_TOKENS, person, &out->tokens_revoked,
			     err)) < 0 ||
	    (rc = erase_step(q, S_ERASE_PSEUD, person, NULL, err)) < 0)
		return rc;
	sqlite3_stmt *st = q->st[S_ERASE_TOMB];
	BLOB(st, 1, person, 16);
	I64(st, 2, now_s);
	TEXT(st, 3, by);
	return run(q, S_ERASE_TOMB, "person erase", err);
}

static int sq_person_exports(struct st_store *s, const uint8_t person[16],
			     uint8_t ids[][16], int64_t *made_s, size_t cap,
			     size_t *count, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_PERSON_EXPORTS];
	BLOB(st, 1, person, 16);
	I64(st, 2, cap);
	int rc, ret = 0;
	*count = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!col_blob(st, 0, ids[*count], 16)) {
			ret = corrupt(q, "person exports", err);
			break;
		}
		made_s[*count] = sqlite3_column_int64(st, 1);
		(*count)++;
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = sq_fail(q, rc, "person exports", err);
	done(st);
	return ret;
}

static int sq_segment_sweep(struct st_store *s, int64_t before_min,
			    uint64_t *deleted, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	I64(q->st[S_SWEEP], 1, before_min);
	int rc = run(q, S_SWEEP, "segment sweep", err);
	if (rc == 0)
		*deleted = (uint64_t)sqlite3_changes(q->db);
	return rc;
}

static int sq_export_add(struct st_store *s, const struct st_export *x,
			 struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_EXPORT_ADD];
	BLOB(st, 1, x->id, 16);
	I64(st, 2, x->purpose_id);
	BLOB(st, 3, x->steward, 16);
	I64(st, 4, x->created_s);
	TEXT(st, 5, x->out_dir);
	return run(q, S_EXPORT_ADD, "export add", err);
}

static int sq_export_person(struct st_store *s, const uint8_t e[16],
			    const uint8_t p[16], struct st_error *err)
{
	struct sq_store *q = SQ(s);
	BLOB(q->st[S_EXPORT_PERSON], 1, e, 16);
	BLOB(q->st[S_EXPORT_PERSON], 2, p, 16);
	return run(q, S_EXPORT_PERSON, "export person", err);
}

static int sq_export_get(struct st_store *s, const uint8_t id[16],
			 struct st_export *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_EXPORT_GET];
	BLOB(st, 1, id, 16);
	int rc = step_one(q, st, "export get", "export: not found", err);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof *out);
	out->purpose_id = sqlite3_column_int64(st, 1);
	out->created_s = sqlite3_column_int64(st, 3);
	out->finished_s = sqlite3_column_int64(st, 6);
	out->finished = out->finished_s != 0;
	if (!col_blob(st, 0, out->id, 16) || !col_blob(st, 2, out->steward, 16) ||
	    !col_text(st, 4, out->out_dir, sizeof out->out_dir - 1) ||
	    (out->finished && !col_blob(st, 5, out->manifest_hash, 32)))
		rc = corrupt(q, "export get", err);
	done(st);
	return rc;
}

static int sq_export_has(struct st_store *s, const uint8_t e[16],
			 const uint8_t p[16], bool *out, struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_EXPORT_HAS];
	BLOB(st, 1, e, 16);
	BLOB(st, 2, p, 16);
	int rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW;
	int ret = (rc == SQLITE_ROW || rc == SQLITE_DONE)
			  ? 0
			  : sq_fail(q, rc, "export has", err);
	done(st);
	return ret;
}

static int sq_export_finish(struct st_store *s, const uint8_t id[16],
			    const uint8_t h[32], int64_t now_s,
			    struct st_error *err)
{
	struct sq_store *q = SQ(s);
	sqlite3_stmt *st = q->st[S_EXPORT_FINISH];
	BLOB(st, 1, id, 16);
	BLOB(st, 2, h, 32);
	I64(st, 3, now_s > 0 ? now_s : 1);
	int rc = run(q, S_EXPORT_FINISH, "export finish", err);
	if (rc == 0 && sqlite3_changes(q->db) != 1)
		return st_fail(err, ST_E_STATE,
			       "export: unknown or finished already");
	return rc;
}

const struct st_store_type st_store_sqlite = {
	.name = "sqlite",
	.size = sizeof(struct sq_store),
	.open = sq_open,
	.close = sq_close,
	.is_valid = sq_is_valid,
	.begin = sq_begin,
	.begin_read = sq_begin_read,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.person_add = sq_person_add,
	.person_get = sq_person_get,
	.person_list = sq_person_list,
	.device_add = sq_device_add,
	.device_get = sq_device_get,
	.device_set_active = sq_device_set_active,
	.device_touch = sq_device_touch,
	.policy_put = sq_policy_put,
	.policy_get_by_notice = sq_policy_get,
	.acceptance_add = sq_acceptance_add,
	.acceptance_has = sq_acceptance_has,
	.segment_put = sq_segment_put,
	.segment_get = sq_segment_get,
	.segment_list = sq_segment_list,
	.segment_count = sq_segment_count,
	.flag_list = sq_flag_list,
	.person_find = sq_person_find,
	.device_list = sq_device_list,
	.device_backlog = sq_device_backlog,
	.device_stats = sq_device_stats,
	.token_add = sq_token_add,
	.token_find = sq_token_find,
	.token_list = sq_token_list,
	.token_revoke = sq_token_revoke,
	.enroll_token_add = sq_enroll_token_add,
	.enroll_token_get = sq_enroll_token_get,
	.enroll_token_use = sq_enroll_token_use,
	.policy_set_current = sq_policy_set_current,
	.policy_get_current = sq_policy_get_current,
	.forget = sq_forget,
	.backup = sq_backup,
	.checkpoint = sq_checkpoint,
	.counts = sq_counts,
	.epoch_get = sq_epoch_get,
	.pause_add = sq_pause_add,
	.resume = sq_resume,
	.pause_list = sq_pause_list,
	.pause_confirm = sq_pause_confirm,
	.pause_confirms_get = sq_pause_confirms_get,
	.scope_devices = sq_scope_devices,
	.setting_get = sq_setting_get,
	.setting_put = sq_setting_put,
	.token_request_add = sq_token_request_add,
	.token_request_get = sq_token_request_get,
	.token_request_close = sq_token_request_close,
	.purpose_add = sq_purpose_add,
	.purpose_get = sq_purpose_get,
	.purpose_list = sq_purpose_list,
	.purpose_approve = sq_purpose_approve,
	.purpose_approvers = sq_purpose_approvers,
	.purpose_set_state = sq_purpose_set_state,
	.audit_append = sq_audit_append,
	.audit_last = sq_audit_last,
	.audit_list = sq_audit_list,
	.checkpoint_add = sq_checkpoint_add,
	.checkpoint_last = sq_checkpoint_last,
	.pseudonym = sq_pseudonym,
	.person_notices = sq_person_notices,
	.person_reseal = sq_person_reseal,
	.person_erase = sq_person_erase,
	.person_exports = sq_person_exports,
	.segment_sweep = sq_segment_sweep,
	.export_add = sq_export_add,
	.export_person = sq_export_person,
	.export_get = sq_export_get,
	.export_has = sq_export_has,
	.export_finish = sq_export_finish,
};
