/* store: the rules common to every implementation (ids, times, token hashing,
 * state-transition checks, transactions) over the ops of one backend. */
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "model/model.h"

#define OPS(st) ((st)->ops)

void
store_new_id(store_id out)
{
	uint8_t raw[STORE_ID_LEN / 2];

	randombytes_buf(raw, sizeof raw);
	hex_encode(raw, sizeof raw, out);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->txn_depth > 0)
		store_rollback(st);
	OPS(st)->close(st);
}

int
store_begin(struct store *st, struct err *err)
{
	int rc;

	if (st->txn_depth > 0)
		return err_make(err, 0, "store: a transaction is already open");
	if ((rc = OPS(st)->begin(st, err)) < 0)
		return rc;
	st->txn_depth = 1;
	return 0;
}

int
store_commit(struct store *st, struct err *err)
{
	int rc;

	if (st->txn_depth == 0)
		return err_make(err, 0, "store: no transaction to commit");
	if ((rc = OPS(st)->commit(st, err)) < 0) {
		OPS(st)->rollback(st);
		st->txn_depth = 0;
		return rc;
	}
	st->txn_depth = 0;
	return 0;
}

void
store_rollback(struct store *st)
{
	if (st->txn_depth == 0)
		return;
	OPS(st)->rollback(st);
	st->txn_depth = 0;
}

/* Opens a transaction for a read-check-write unless the caller holds one;
 * *own says whether txn_end() must close it. */
static int
txn_start(struct store *st, int *own, struct err *err)
{
	*own = st->txn_depth == 0;
	return *own ? store_begin(st, err) : 0;
}

/* Commits an own transaction when rc is 0, rolls it back otherwise. The
 * caller's transaction is left for the caller to decide. Returns rc, or the
 * commit's failure. */
static int
txn_end(struct store *st, int own, int rc, struct err *err)
{
	if (!own)
		return rc;
	if (rc < 0) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st, err);
}

/* Sets err to a store code without strerror's sentence. */
static int
store_fail(struct err *err, int code, const char *what)
{
	err_make(err, 0, "%s", what);
	if (err != NULL)
		err->code = -code;
	return code;
}

/* ---- orgs and tokens ---- */

int
store_org_create(struct store *st, const char *name, struct store_org *out, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	struct store_org o = {.name = (char *)name, .created_at = now_wall_ms()};
	int rc;

	store_new_id(o.id);
	if ((rc = OPS(st)->org_create(st, &o, err)) < 0)
		return rc;
	if (out != NULL) {
		*out = o;
		out->name = xstrdup(name);
	}
	return 0;
}

int
store_org_get(struct store *st, const char *id, struct store_org *out, struct err *err)
{
	return OPS(st)->org_get(st, id, NULL, out, err);
}

int
store_org_get_by_name(struct store *st, const char *name, struct store_org *out, struct err *err)
{
	return OPS(st)->org_get(st, NULL, name, out, err);
}

void
store_org_clear(struct store_org *o)
{
	free(o->name);
	memset(o, 0, sizeof *o);
}

int
store_token_add(struct store *st, const char *org_id, const char *token, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	char hash[65];

	if (token == NULL || strlen(token) < 16)
		return err_make(err, 0, "an API token needs at least 16 characters");
	sha256_hex(token, strlen(token), hash);
	return OPS(st)->token_add(st, org_id, hash, now_wall_ms(), err);
}

int
store_token_lookup(struct store *st, const char *token, struct store_org *out, struct err *err)
{
	char hash[65];

	sha256_hex(token, strlen(token), hash);
	return OPS(st)->token_find(st, hash, out, err);
}

int
store_token_delete(struct store *st, const char *token, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	char hash[65];

	sha256_hex(token, strlen(token), hash);
	return OPS(st)->token_delete(st, hash, err);
}

/* ---- containers ---- */

int
store_container_create(struct store *st, struct store_container *c, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	store_new_id(c->id);
	c->created_at = c->updated_at = now_wall_ms();
	c->deleted_at = 0;
	return OPS(st)->container_create(st, c, err);
}

int
store_container_get(struct store *st, const char *id, struct store_container *out, struct err *err)
{
	return OPS(st)->container_get(st, id, NULL, NULL, out, err);
}

int
store_container_get_by_name(struct store *st, const char *org_id, const char *name,
                            struct store_container *out, struct err *err)
{
	return OPS(st)->container_get(st, NULL, org_id, name, out, err);
}

int
store_container_list(struct store *st, const char *org_id, struct store_container **out, size_t *n,
                     struct err *err)
{
	return OPS(st)->container_list(st, org_id, 0, out, n, err);
}

int
store_container_heads(struct store *st, const char *org_id, struct store_container_head **out,
                      size_t *n, struct err *err)
{
	*out = NULL;
	*n = 0;
	return OPS(st)->container_heads(st, org_id, out, n, err);
}

int
store_container_list_deleted(struct store *st, struct store_container **out, size_t *n,
                             struct err *err)
{
	return OPS(st)->container_list(st, NULL, 1, out, n, err);
}

int
store_container_save(struct store *st, struct store_container *c, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	struct store_container cur = {0};
	int own, rc;

	if ((rc = txn_start(st, &own, err)) < 0)
		return rc;
	if ((rc = OPS(st)->container_get(st, c->id, NULL, NULL, &cur, err)) < 0)
		goto out;
	if (cur.status != c->status && !model_container_can_transition(cur.status, c->status)) {
		char msg[256];

		snprintf(msg, sizeof msg, "container %s cannot go from %s to %s", cur.name,
		         model_container_status_str(cur.status),
		         model_container_status_str(c->status));
		rc = store_fail(err, STORE_ESTATE, msg);
		goto out;
	}
	c->updated_at = now_wall_ms();
	c->deleted_at = cur.deleted_at;
	rc = OPS(st)->container_put(st, c, err);
out:
	store_container_clear(&cur);
	return txn_end(st, own, rc, err);
}

int
store_container_mark_deleted(struct store *st, const char *id, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	struct store_container c = {0};
	struct store_update u = {0};
	struct store_binding *b = NULL;
	size_t nb = 0;
	int own, rc;

	if ((rc = txn_start(st, &own, err)) < 0)
		return rc;
	if ((rc = OPS(st)->container_get(st, id, NULL, NULL, &c, err)) < 0)
		goto out;
	if (c.deleted_at == 0) {
		c.deleted_at = c.updated_at = now_wall_ms();
		if ((rc = OPS(st)->container_put(st, &c, err)) < 0)
			goto out;
	}
	/* Its secrets are free at once, as its name is: the user's view and the
	 * store agree; the teardown needs no binding. */
	if ((rc = OPS(st)->binding_list(st, id, &b, &nb, err)) < 0)
		goto out;
	for (size_t i = 0; i < nb && rc == 0; i++)
		rc = OPS(st)->binding_delete_deployment(st, b[i].deployment_id, err);
	if (rc < 0)
		goto out;
	rc = OPS(st)->update_latest(st, id, &u, err);
	if (rc == STORE_ENOTFOUND) {
		err_clear(err);
		rc = 0;
		goto out;
	}
	if (rc < 0 || !model_update_can_cancel(&u.state))
		goto out;
	u.state = model_update_end(&u.state, 0);
	u.finished_at = now_wall_ms();
	rc = OPS(st)->update_put(st, &u, err);
out:
	store_binding_list_free(b, nb);
	store_update_clear(&u);
	store_container_clear(&c);
	return txn_end(st, own, rc, err);
}

int
store_container_delete(struct store *st, const char *id, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	return OPS(st)->container_delete(st, id, err);
}

void
store_container_clear(struct store_container *c)
{
	free(c->name);
	free(c->status_detail);
	free(c->source_repo);
	free(c->source_tag);
	free(c->pending);
	memset(c, 0, sizeof *c);
}

void
store_container_list_free(struct store_container *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_container_clear(&v[i]);
	free(v);
}

/* ---- deployments ---- */

int
store_deployment_create(struct store *st, struct store_deployment *d, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	store_new_id(d->id);
	d->created_at = now_wall_ms();
	return OPS(st)->deployment_create(st, d, err);
}

int
store_deployment_get(struct store *st, const char *id, struct store_deployment *out,
                     struct err *err)
{
	return OPS(st)->deployment_get(st, id, out, err);
}

int
store_deployment_list(struct store *st, const char *container_id, struct store_deployment **out,
                      size_t *n, struct err *err)
{
	return OPS(st)->deployment_list(st, container_id, out, n, err);
}

void
store_deployment_clear(struct store_deployment *d)
{
	free(d->tag);
	free(d->config);
	free(d->measurement);
	free(d->images_json);
	free(d->secrets_json);
	free(d->env_json);
	free(d->isolation);
	memset(d, 0, sizeof *d);
}

void
store_deployment_list_free(struct store_deployment *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_deployment_clear(&v[i]);
	free(v);
}

/* ---- updates ---- */

int
store_update_create(struct store *st, struct store_update *u, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	if (u->state.strategy != STRATEGY_BLUE_GREEN && u->state.strategy != STRATEGY_RECREATE)
		return err_make(err, 0, "unknown update strategy %d", (int)u->state.strategy);
	store_new_id(u->id);
	u->state = model_update_initial(u->state.strategy);
	u->created_at = now_wall_ms();
	u->switched_at = u->finished_at = 0;
	return OPS(st)->update_create(st, u, err);
}

int
store_update_get(struct store *st, const char *id, struct store_update *out, struct err *err)
{
	return OPS(st)->update_get(st, id, out, err);
}

int
store_update_latest(struct store *st, const char *container_id, struct store_update *out,
                    struct err *err)
{
	return OPS(st)->update_latest(st, container_id, out, err);
}

int
store_update_list(struct store *st, const char *container_id, struct store_update **out, size_t *n,
                  struct err *err)
{
	return OPS(st)->update_list(st, container_id, out, n, err);
}

int
store_update_list_unfinished(struct store *st, struct store_update **out, size_t *n,
                             struct err *err)
{
	return OPS(st)->update_list(st, NULL, out, n, err);
}

static int
update_state_equal(const struct update_state *a, const struct update_state *b)
{
	return a->strategy == b->strategy && a->status == b->status && a->phase == b->phase &&
	       !a->switched == !b->switched && !a->finished == !b->finished;
}

static void
update_state_text(const struct update_state *s, char *out, size_t n)
{
	const char *phase = model_phase_str(s->phase);

	snprintf(out, n, "%s%s%s%s%s", model_update_status_str(s->status), phase ? "/" : "",
	         phase ? phase : "", s->switched ? " (switched)" : "",
	         s->finished ? " (finished)" : "");
}

int
store_update_save(struct store *st, struct store_update *u, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	struct store_update cur = {0};
	int own, rc;

	if ((rc = txn_start(st, &own, err)) < 0)
		return rc;
	if ((rc = OPS(st)->update_get(st, u->id, &cur, err)) < 0)
		goto out;
	if (!update_state_equal(&cur.state, &u->state) &&
	    !model_update_can_transition(&cur.state, &u->state)) {
		char a[96], b[96], msg[256];

		update_state_text(&cur.state, a, sizeof a);
		update_state_text(&u->state, b, sizeof b);
		snprintf(msg, sizeof msg, "update %s cannot go from %s to %s", u->id, a, b);
		rc = store_fail(err, STORE_ESTATE, msg);
		goto out;
	}
	u->switched_at = cur.switched_at;
	u->finished_at = cur.finished_at;
	if (u->state.switched && u->switched_at == 0)
		u->switched_at = now_wall_ms();
	if (u->state.finished && u->finished_at == 0)
		u->finished_at = now_wall_ms();
	rc = OPS(st)->update_put(st, u, err);
out:
	store_update_clear(&cur);
	return txn_end(st, own, rc, err);
}

int
store_update_cancel(struct store *st, const char *container_id, struct store_update *out,
                    struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	struct store_update u = {0};
	int own, rc;

	if ((rc = txn_start(st, &own, err)) < 0)
		return rc;
	rc = OPS(st)->update_latest(st, container_id, &u, err);
	if (rc == STORE_ENOTFOUND) {
		rc = store_fail(err, STORE_ENOTFOUND, "the container has no update to cancel");
		goto out;
	}
	if (rc < 0)
		goto out;
	if (!model_update_can_cancel(&u.state)) {
		rc = store_fail(err, STORE_ESTATE,
		                u.state.finished
		                    ? "no update is in progress"
		                    : "the update has switched traffic and is finishing");
		goto out;
	}
	u.state = model_update_end(&u.state, 0);
	u.finished_at = now_wall_ms();
	rc = OPS(st)->update_put(st, &u, err);
out:
	if (rc == 0 && out != NULL)
		*out = u;
	else
		store_update_clear(&u);
	return txn_end(st, own, rc, err);
}

void
store_update_clear(struct store_update *u)
{
	free(u->error);
	free(u->health_log_json);
	memset(u, 0, sizeof *u);
}

void
store_update_list_free(struct store_update *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_update_clear(&v[i]);
	free(v);
}

/* ---- enclaves ---- */

int
store_enclave_create(struct store *st, struct store_enclave *e, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	store_new_id(e->id);
	e->created_at = e->updated_at = now_wall_ms();
	return OPS(st)->enclave_create(st, e, err);
}

int
store_enclave_get(struct store *st, const char *id, struct store_enclave *out, struct err *err)
{
	return OPS(st)->enclave_get(st, id, out, err);
}

int
store_enclave_list(struct store *st, const char *container_id, struct store_enclave **out,
                   size_t *n, struct err *err)
{
	return OPS(st)->enclave_list(st, container_id, out, n, err);
}

int
store_enclave_list_live(struct store *st, struct store_enclave **out, size_t *n, struct err *err)
{
	return OPS(st)->enclave_list(st, NULL, out, n, err);
}

int
store_enclave_save(struct store *st, struct store_enclave *e, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	struct store_enclave cur = {0};
	int own, rc;

	if ((rc = txn_start(st, &own, err)) < 0)
		return rc;
	if ((rc = OPS(st)->enclave_get(st, e->id, &cur, err)) < 0)
		goto out;
	if (cur.state != e->state && !model_enclave_can_transition(cur.state, e->state)) {
		char msg[256];

		snprintf(msg, sizeof msg, "enclave %s cannot go from %s to %s", cur.name,
		         model_enclave_state_str(cur.state), model_enclave_state_str(e->state));
		rc = store_fail(err, STORE_ESTATE, msg);
		goto out;
	}
	e->updated_at = now_wall_ms();
	rc = OPS(st)->enclave_put(st, e, err);
out:
	store_enclave_clear(&cur);
	return txn_end(st, own, rc, err);
}

int
store_enclave_delete(struct store *st, const char *id, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	return OPS(st)->enclave_delete(st, id, err);
}

void
store_enclave_clear(struct store_enclave *e)
{
	free(e->name);
	free(e->address);
	free(e->reason);
	free(e->attested_keys);
	free(e->host_id);
	memset(e, 0, sizeof *e);
}

void
store_enclave_list_free(struct store_enclave *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_enclave_clear(&v[i]);
	free(v);
}

/* ---- secrets and bindings ---- */

int
store_secret_put(struct store *st, const char *org_id, const char *name, const uint8_t *sealed,
                 size_t sealed_len, const uint8_t *nonce, size_t nonce_len, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	struct store_secret s = {
	    .name = (char *)name,
	    .sealed = (uint8_t *)sealed,
	    .sealed_len = sealed_len,
	    .nonce = (uint8_t *)nonce,
	    .nonce_len = nonce_len,
	};

	store_new_id(s.id);
	snprintf(s.org_id, sizeof s.org_id, "%s", org_id);
	s.created_at = s.updated_at = now_wall_ms();
	return OPS(st)->secret_put(st, &s, err);
}

int
store_secret_get(struct store *st, const char *org_id, const char *name, struct store_secret *out,
                 struct err *err)
{
	return OPS(st)->secret_get(st, org_id, name, out, err);
}

int
store_secret_any(struct store *st, struct store_secret *out, struct err *err)
{
	return OPS(st)->secret_any(st, out, err);
}

int
store_secret_list(struct store *st, const char *org_id, struct store_secret **out, size_t *n,
                  struct err *err)
{
	return OPS(st)->secret_list(st, org_id, out, n, err);
}

int
store_secret_delete(struct store *st, const char *org_id, const char *name, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	return OPS(st)->secret_delete(st, org_id, name, err);
}

void
store_secret_clear(struct store_secret *s)
{
	free(s->name);
	if (s->sealed != NULL)
		sodium_memzero(s->sealed, s->sealed_len);
	free(s->sealed);
	free(s->nonce);
	strv_free(s->bound_to);
	memset(s, 0, sizeof *s);
}

void
store_secret_list_free(struct store_secret *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_secret_clear(&v[i]);
	free(v);
}

int
store_binding_add(struct store *st, const char *container_id, const char *deployment_id,
                  const char *secret_name, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	return OPS(st)->binding_add(st, container_id, deployment_id, secret_name, err);
}

int
store_binding_list(struct store *st, const char *container_id, struct store_binding **out,
                   size_t *n, struct err *err)
{
	return OPS(st)->binding_list(st, container_id, out, n, err);
}

int
store_binding_delete_deployment(struct store *st, const char *deployment_id, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	return OPS(st)->binding_delete_deployment(st, deployment_id, err);
}

void
store_binding_list_free(struct store_binding *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].secret_name);
	free(v);
}

/* ---- settings ---- */

int
store_setting_set(struct store *st, const char *container_id, const char *key, const char *value,
                  struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	return OPS(st)->setting_set(st, container_id, key, value, err);
}

int
store_setting_list(struct store *st, const char *container_id, struct store_setting **out,
                   size_t *n, struct err *err)
{
	return OPS(st)->setting_list(st, container_id, out, n, err);
}

int
store_setting_delete(struct store *st, const char *container_id, const char *key, struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	return OPS(st)->setting_delete(st, container_id, key, err);
}

void
store_setting_list_free(struct store_setting *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

/* ---- events ---- */

int
store_event_append(struct store *st, const char *org_id, const char *container_id,
                   const char *container, const char *kind, const char *message, int64_t *id,
                   struct err *err)
{
	st->generation++; /* whatever happens next, readers look again */
	struct store_event e = {
	    .container = (char *)container,
	    .time = now_wall_ms(),
	    .kind = (char *)kind,
	    .message = (char *)message,
	};
	int64_t scratch;

	snprintf(e.org_id, sizeof e.org_id, "%s", org_id);
	snprintf(e.container_id, sizeof e.container_id, "%s",
	         container_id != NULL ? container_id : "");
	return OPS(st)->event_append(st, &e, id != NULL ? id : &scratch, err);
}

int
store_event_list(struct store *st, const char *org_id, const char *container_id, int64_t after,
                 size_t limit, struct store_event **out, size_t *n, struct err *err)
{
	return OPS(st)->event_list(st, org_id, container_id, after, limit, out, n, err);
}

void
store_event_list_free(struct store_event *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].container);
		free(v[i].kind);
		free(v[i].message);
	}
	free(v);
}
