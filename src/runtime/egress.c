/* egress: allowlist names resolved, scheduled and put into the firewall set
 * and the hosts file. */
#include "runtime/egress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/firewall.h"
#include "runtime/runtime-internal.h"

#define EGRESS_MARKER "# berth egress allowlist (resolved by berth on the host)\n"

/* When a name failed to resolve again: its old addresses stay, asked again
 * this soon at the latest. */
#define EGRESS_RETRY_S 5

void
egress_resolved_free(struct egress_resolved *r)
{
	strv_free(r->names);
	free(r->answers);
	memset(r, 0, sizeof *r);
}

static int
ask(struct runtime *rt, char *const *names, struct egress_resolved *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	out->names = strv_dup(names);
	out->n = strv_len(names);
	out->answers = xcalloc(out->n + 1, sizeof *out->answers);
	if (out->n == 0)
		return 0;
	if (rt->dns_error != NULL)
		return err_make(err, 0, "%s", rt->dns_error);
	return resolve_names(&rt->dns, out->names, out->n, rt->subnet6 != NULL, rt->dns_timeout_ms,
	                     out->answers, err);
}

int
egress_resolve(struct runtime *rt, char *const *names, struct egress_resolved *out, struct err *err)
{
	if (ask(rt, names, out, err) < 0) {
		egress_resolved_free(out);
		return err_wrap(err, "egress allowlist");
	}
	for (size_t i = 0; i < out->n; i++)
		if (!out->answers[i].ok) {
			err_make(err, 0, "egress allowlist: %s: %s", out->names[i],
			         out->answers[i].why);
			egress_resolved_free(out);
			return -1;
		}
	return 0;
}

char **
egress_addresses(const struct egress_resolved *r, size_t *n)
{
	char **v = NULL;

	for (size_t i = 0; i < r->n; i++)
		for (size_t k = 0; k < r->answers[i].n; k++)
			if (!strv_contains(v, r->answers[i].addrs[k]))
				v = strv_push(v, r->answers[i].addrs[k]);
	*n = strv_len(v);
	return v;
}

char *
egress_hosts_section(const struct egress_resolved *r)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, EGRESS_MARKER);
	for (size_t i = 0; i < r->n; i++)
		for (size_t k = 0; k < r->answers[i].n; k++)
			buf_printf(&b, "%s\t%s\n", r->answers[i].addrs[k], r->names[i]);
	return buf_take(&b);
}

/* The section of hosts text (from its marker), or NULL. Borrowed. */
static const char *
section_of(const char *text)
{
	return text != NULL ? strstr(text, EGRESS_MARKER) : NULL;
}

/* The addresses of name in section (a hosts section), into a. */
static void
section_lookup(const char *section, const char *name, struct resolve_answer *a)
{
	const char *l = section != NULL ? strchr(section, '\n') : NULL;

	memset(a, 0, sizeof *a);
	while (l != NULL && *++l != '\0') {
		char addr[RESOLVE_ADDR_MAX], host[256];

		if (sscanf(l, "%45s %255s", addr, host) == 2 && strcmp(host, name) == 0 &&
		    a->n < RESOLVE_MAX_ADDRS * 2)
			memcpy(a->addrs[a->n++], addr, sizeof addr);
		l = strchr(l, '\n');
	}
	a->ok = a->n > 0;
}

char **
egress_hosts_addresses(const char *path, size_t *n)
{
	char *text = NULL, **v = NULL;
	size_t len;
	struct err ignored = ERR_INIT;
	const char *sec, *l;

	*n = 0;
	if (file_read_all(path, 1 << 20, &text, &len, &ignored) < 0)
		return NULL;
	sec = section_of(text);
	for (l = sec != NULL ? strchr(sec, '\n') : NULL; l != NULL && *++l != '\0';
	     l = strchr(l, '\n')) {
		char addr[RESOLVE_ADDR_MAX];

		if (sscanf(l, "%45s", addr) == 1 && !strv_contains(v, addr))
			v = strv_push(v, addr);
	}
	free(text);
	*n = strv_len(v);
	return v;
}

void
egress_schedule(struct runtime *rt, const char *name, const struct egress_resolved *r)
{
	uint32_t ttl = RESOLVE_TTL_MAX_S;
	struct egress_due *d;

	for (size_t i = 0; i < r->n; i++)
		if (r->answers[i].ttl_s < ttl)
			ttl = r->answers[i].ttl_s;
	pthread_mutex_lock(&rt->egress_lock);
	for (d = rt->egress_due; d != NULL && strcmp(d->name, name) != 0; d = d->next)
		;
	if (d == NULL) {
		d = xcalloc(1, sizeof *d);
		d->name = xstrdup(name);
		d->next = rt->egress_due;
		rt->egress_due = d;
	}
	d->due_ms = now_mono_ms() + (int64_t)ttl * 1000;
	pthread_mutex_unlock(&rt->egress_lock);
}

void
egress_forget(struct runtime *rt, const char *name)
{
	pthread_mutex_lock(&rt->egress_lock);
	for (struct egress_due **p = &rt->egress_due; *p != NULL; p = &(*p)->next)
		if (strcmp((*p)->name, name) == 0) {
			struct egress_due *d = *p;

			*p = d->next;
			free(d->name);
			free(d);
			break;
		}
	pthread_mutex_unlock(&rt->egress_lock);
}

static int
is_due(struct runtime *rt, const char *name)
{
	int due = 1;

	pthread_mutex_lock(&rt->egress_lock);
	for (struct egress_due *d = rt->egress_due; d != NULL; d = d->next)
		if (strcmp(d->name, name) == 0)
			due = now_mono_ms() >= d->due_ms;
	pthread_mutex_unlock(&rt->egress_lock);
	return due;
}

/* Rewrites the file at path in place with text: a container that binds the
 * file holds its inode, a rename would leave it the old one. */
static int
rewrite_in_place(const char *path, const char *text, struct err *err)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), rc = 0;

	if (fd < 0)
		return err_make(err, errno, "open %s", path);
	if (pwrite(fd, text, len, 0) != (ssize_t)len || ftruncate(fd, (off_t)len) < 0)
		rc = err_make(err, errno, "write %s", path);
	close(fd);
	return rc;
}

/* Replaces the copy of hosts_path in EGRESS_HOSTS_DIR beside it, if there is
 * that directory (enclaves made before it have none), by a rename: a
 * reader has the old file or the new one. */
static int
replace_copy(const char *hosts_path, const char *text, struct err *err)
{
	const char *slash = strrchr(hosts_path, '/');
	int dlen = slash != NULL ? (int)(slash - hosts_path) : 1;
	const char *dir = slash != NULL ? hosts_path : ".";
	char *copy = xasprintf("%.*s/" EGRESS_HOSTS_DIR "/hosts", dlen, dir);
	char *tmp = xasprintf("%.*s/" EGRESS_HOSTS_DIR "/.hosts.%d", dlen, dir, (int)getpid());
	int rc = 0;

	if (access(copy, F_OK) == 0)
		rc = file_write_rename(tmp, copy, text, strlen(text), O_TRUNC, 0644, 1, err);
	free(copy);
	free(tmp);
	return rc;
}

int
egress_refresh(struct runtime *rt, const char *name, char *const *names, const char *hosts_path,
               struct err *err)
{
	struct egress_resolved r;
	struct err aerr = ERR_INIT;
	char *text = NULL, *section = NULL, *head, *updated = NULL, **addrs = NULL;
	const char *old;
	size_t len, n_addrs;
	int rc;

	if (names == NULL || names[0] == NULL || !is_due(rt, name))
		return 0;
	rc = file_read_all(hosts_path, 1 << 20, &text, &len, err);
	if (rc < 0)
		return err_wrap(err, "egress allowlist of enclave %s", name);
	old = section_of(text);
	if (ask(rt, names, &r, &aerr) < 0) {
		/* Nothing asked (no server, no socket): the old addresses stay. */
		for (size_t i = 0; i < r.n; i++) {
			snprintf(r.answers[i].why, sizeof r.answers[i].why, "%.150s", aerr.msg);
			r.answers[i].ttl_s = EGRESS_RETRY_S;
		}
	}
	for (size_t i = 0; i < r.n; i++)
		if (!r.answers[i].ok) {
			log_warn("enclave %s: egress allowlist: %s: %s; its last addresses stay",
			         name, r.names[i], r.answers[i].why);
			section_lookup(old, r.names[i], &r.answers[i]);
			r.answers[i].ttl_s = EGRESS_RETRY_S;
		}
	section = egress_hosts_section(&r);
	rc = 0;
	if (old == NULL || strcmp(old, section) != 0) {
		head = xstrndup(text, old != NULL ? (size_t)(old - text) : len);
		updated = xasprintf("%s%s%s", head,
		                    head[0] != '\0' && head[strlen(head) - 1] != '\n' ? "\n" : "",
		                    section);
		free(head);
		addrs = egress_addresses(&r, &n_addrs);
		/* The set first: a container that reads the new address finds
		 * it allowed. */
		rc = firewall_set_allow(name, addrs, n_addrs, err);
		if (rc == 0)
			rc = replace_copy(hosts_path, updated, err);
		if (rc == 0)
			rc = rewrite_in_place(hosts_path, updated, err);
		if (rc == 0) {
			log_info("enclave %s: egress allowlist: %zu address(es) now", name,
			         n_addrs);
			rc = 1;
		}
	}
	egress_schedule(rt, name, &r);
	if (rc < 0)
		err_wrap(err, "egress allowlist of enclave %s", name);
	strv_free(addrs);
	free(updated);
	free(section);
	free(text);
	egress_resolved_free(&r);
	return rc;
}
