/* enclave: namespaces, the bridge, bundles and OCI containers put together.
 *
 * Order of creation, each step recorded before it is taken so that destroy
 * can find it: state dir and enclave.json → namespace → an egress
 * allowlist's names resolved (egress.h) → addresses (ipam.h) and their
 * record (net.json) → firewall tables (nft on a thread, joined before any
 * start) → veth pair, addresses, routes (netlink.h) → hosts files → per
 * container: overlay rootfs, config.json, log copier, runtime create →
 * runtime start of every container. Destroy walks the same list backwards
 * and treats "absent" as done. */
#include "runtime/enclave.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "runtime/egress.h"
#include "runtime/firewall.h"
#include "runtime/gpu.h"
#include "runtime/linux.h"
#include "runtime/logcopy.h"
#include "runtime/netlink.h"
#include "runtime/runtime-internal.h"
#include "runtime/tinfoil.h"

#define KILL_WAIT_MS 10000

void
enclave_name(const char *deployment_id, char out[ENCLAVE_NAME_MAX + 1])
{
	size_t n = 0;

	memcpy(out, "b-", 2);
	for (const char *p = deployment_id; p != NULL && *p != '\0' && n < 12; p++)
		if (isalnum((unsigned char)*p))
			out[2 + n++] = (char)tolower((unsigned char)*p);
	out[2 + n] = '\0';
}

static int
enclave_name_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n <= ENCLAVE_NAME_MAX && isalnum((unsigned char)s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int
container_name_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n <= 63 && isalnum((unsigned char)s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static char *
enclave_dir(const struct runtime *rt, const char *name)
{
	return xasprintf("%s/%s", rt->enclaves_dir, name);
}

static char *
bundle_dir(const struct runtime *rt, const char *name)
{
	return xasprintf("%s/%s", rt->bundles_dir, name);
}

/* Where the enclave's user namespace is pinned, beside its network one. */
static char *
userns_file(const struct runtime *rt, const char *name)
{
	return xasprintf("%s/%s.user", rt->netns_dir, name);
}

/* Every rootfs of a runc enclave is owned by the range's root: the image
 * was unpacked for it (image_unpack_shifted()). */
static int
check_rootfs_owner(const struct enclave_spec *spec, unsigned base, struct err *err)
{
	for (size_t i = 0; i < spec->n_containers; i++) {
		const char *r = spec->containers[i].rootfs;
		struct stat st;

		if (stat(r, &st) < 0)
			return err_make(err, errno, "container %s: rootfs %s",
			                spec->containers[i].config->name, r);
		if (st.st_uid != base)
			return err_make(err, 0,
			                "container %s: rootfs %s is owned by uid %u, not %u (the "
			                "enclave's root): unpack it shifted into the enclave's ids",
			                spec->containers[i].config->name, r, (unsigned)st.st_uid,
			                base);
	}
	return 0;
}

static char *
cgroup_path(const struct runtime *rt, const char *name)
{
	return xasprintf("%s/%s", rt->cgroup_parent, name);
}

/* Installs the firewall tables of enclave e; allow[0..n_allow): the
 * addresses of its allowlist. */
static int
apply_firewall(const struct runtime *rt, const struct enclave *e, char *const *allow,
               size_t n_allow, struct err *err)
{
	struct firewall_enclave fe = {.name = e->name,
	                              .bridge = rt->bridge,
	                              .veth = e->veth,
	                              .ip = e->ip,
	                              .ip6 = e->ip6,
	                              .egress_open = e->egress_open,
	                              .allowlist = e->egress_allowlist,
	                              .allow = allow,
	                              .n_allow = n_allow,
	                              .upstream_mark = rt->upstream_mark};

	if (e->veth == NULL || e->ip == NULL)
		return err_make(err, 0, "enclave %s: no veth or address in its record", e->name);
	return firewall_apply(&fe, err);
}

/* Reads the network record of the enclave in edir into e (ip, ip6, veth):
 * net.json, or the CNI ADD result (cni.json) of an enclave made before berth
 * set up its network itself. Absent leaves them NULL. */
static void
net_record_load(const char *edir, const char *bridge, struct enclave *e)
{
	char *path = xasprintf("%s/net.json", edir);
	json_t *j = json_load_file(path, 0, NULL), *a;
	size_t i;

	if (j != NULL) {
		const char *ip = json_string_value(json_object_get(j, "ip"));
		const char *ip6 = json_string_value(json_object_get(j, "ip6"));
		const char *veth = json_string_value(json_object_get(j, "veth"));

		e->ip = ip != NULL ? xstrdup(ip) : NULL;
		e->ip6 = ip6 != NULL ? xstrdup(ip6) : NULL;
		e->veth = veth != NULL ? xstrdup(veth) : NULL;
	} else {
		path = (free(path), xasprintf("%s/cni.json", edir));
		j = json_load_file(path, 0, NULL);
		json_array_foreach(json_object_get(j, "ips"), i, a)
		{
			const char *addr = json_string_value(json_object_get(a, "address"));
			char **slot = addr == NULL                ? NULL
			              : strchr(addr, ':') != NULL ? &e->ip6
			                                          : &e->ip;

			if (slot != NULL && *slot == NULL)
				*slot = xstrndup(addr, strcspn(addr, "/"));
		}
		/* The host end: the interface neither in the namespace nor the
		 * bridge. */
		json_array_foreach(json_object_get(j, "interfaces"), i, a)
		{
			const char *n = json_string_value(json_object_get(a, "name"));

			if (n != NULL && strcmp(n, bridge) != 0 &&
			    json_object_get(a, "sandbox") == NULL && e->veth == NULL)
				e->veth = xstrdup(n);
		}
	}
	json_decref(j);
	free(path);
}

static char *
netns_path(const struct runtime *rt, const char *name)
{
	return xasprintf("%s/%s", rt->netns_dir, name);
}

const struct enclave_container *
enclave_container_find(const struct enclave *e, const char *name)
{
	for (size_t i = 0; i < e->n_containers; i++)
		if (strcmp(e->containers[i].name, name) == 0)
			return &e->containers[i];
	return NULL;
}

int
enclave_attest_listen(struct runtime *rt, const char *name, const char *container, int *fd,
                      struct err *err)
{
	char *dir = xasprintf("%s/%s/%s/tinfoil", rt->bundles_dir, name, container);
	int rc = tinfoil_listen(dir, fd, err);

	free(dir);
	return rc;
}

void
enclave_free(struct enclave *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->n_containers; i++) {
		free(e->containers[i].name);
		free(e->containers[i].id);
		free(e->containers[i].log_path);
		if (e->containers[i].attest_fd >= 0)
			close(e->containers[i].attest_fd);
	}
	free(e->containers);
	free(e->name);
	free(e->deployment_id);
	free(e->isolation);
	free(e->ip);
	free(e->ip6);
	free(e->netns);
	free(e->veth);
	strv_free(e->allow);
	free(e);
}

static int
write_json(const char *path, json_t *j, struct err *err)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	int rc = file_write_atomic(path, text, strlen(text), 0600, err);

	free(text);
	return rc;
}

/* A file bound read-only into the containers: readable by their ids,
 * whatever the umask. */
static int
public_file(const char *path, const char *data, size_t len, struct err *err)
{
	if (file_write_atomic(path, data, len, 0644, err) < 0)
		return -1;
	if (chmod(path, 0644) < 0)
		return err_make(err, errno, "chmod %s", path);
	return 0;
}

/* Writes the enclave's hosts (every container's name on loopback, then
 * allow_section: the allowlist's names, egress.h), its copy in the hosts
 * directory (EGRESS_HOSTS_DIR) and resolv.conf, bound into each
 * container. */
static int
write_hosts(const struct enclave_spec *spec, const char *dir, const char *ip,
            const char *allow_section, struct err *err)
{
	struct buf b = BUF_INIT;
	char *path, *host = NULL;
	size_t len;
	struct err ignored = ERR_INIT;
	int rc;

	buf_puts(&b, "127.0.0.1\tlocalhost");
	for (size_t i = 0; i < spec->n_containers; i++)
		buf_printf(&b, " %s", spec->containers[i].config->name);
	buf_printf(&b, "\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n", ip, spec->name);
	if (allow_section != NULL)
		buf_puts(&b, allow_section);
	path = xasprintf("%s/hosts", dir);
	rc = public_file(path, b.data, b.len, err);
	free(path);
	if (rc == 0) {
		path = xasprintf("%s/" EGRESS_HOSTS_DIR, dir);
		rc = mkdir_p(path, 0755, err);
		if (rc == 0 && chmod(path, 0755) < 0)
			rc = err_make(err, errno, "chmod %s", path);
		free(path);
	}
	if (rc == 0) {
		path = xasprintf("%s/" EGRESS_HOSTS_DIR "/hosts", dir);
		rc = public_file(path, b.data, b.len, err);
		free(path);
	}
	if (rc < 0)
		goto out;
	/* The host's resolver settings, without loopback servers the enclave
	 * cannot reach. Enclaves have no egress by default anyway. An
	 * allowlist's names are in hosts: no server at all (a lookup of
	 * anything else fails at once, on the enclave's own loopback). */
	buf_reset(&b);
	buf_puts(&b, "# berth enclave\n");
	if (allow_section != NULL)
		buf_puts(&b, "# egress allowlist: its names are in /etc/hosts, no DNS server\n");
	else if (file_read_all("/etc/resolv.conf", 1 << 16, &host, &len, &ignored) == 0) {
		char *save = NULL;

		for (char *l = strtok_r(host, "\n", &save); l != NULL;
		     l = strtok_r(NULL, "\n", &save))
			if (strncmp(l, "nameserver", 10) != 0 || strstr(l, " 127.") == NULL)
				buf_printf(&b, "%s\n", l);
	}
	path = xasprintf("%s/resolv.conf", dir);
	rc = public_file(path, b.data, b.len, err);
	free(path);
out:
	free(host);
	buf_free(&b);
	return rc;
}

/* The log copier of a container of spec, told every secret value bound to
 * the enclave, so that none reaches the log file. */
static int
start_log_copier(const struct runtime *rt, const struct enclave_spec *spec, const char *bdir,
                 const char *path, int *wfd, struct err *err)
{
	struct logcopy_opts o = {
	    .dir = bdir, .path = path, .max_bytes = rt->log_max_bytes, .lifeline = rt->lifeline[0]};
	struct logcopy_value *v = xcalloc(spec->n_secrets + 1, sizeof *v);
	int rc;

	for (size_t i = 0; i < spec->n_secrets; i++) {
		const char *val = spec->secrets[i].value != NULL ? spec->secrets[i].value : "";
		size_t len = strlen(val);

		/* As redact.h: the trailing line break is not the secret. */
		while (len > 0 && (val[len - 1] == '\n' || val[len - 1] == '\r'))
			len--;
		v[i] = (struct logcopy_value){val, len,
		                              xasprintf("[secret %s]", spec->secrets[i].key)};
	}
	rc = logcopy_start(&o, v, spec->n_secrets, wfd, err);
	for (size_t i = 0; i < spec->n_secrets; i++)
		free((char *)v[i].replacement);
	free(v);
	return rc;
}

/* Whether a mount of cc (a tmpfs, a volume) would hide /etc/hosts of the
 * rootfs, and with it the link into the hosts directory. */
static int
hides_etc_hosts(const struct config_container *cc, const struct bundle_mount *vols, size_t n_vols)
{
	static const char *const hiding[] = {"/", "/etc", "/etc/", "/etc/hosts"};

	for (size_t k = 0; k < ARRAY_LEN(hiding); k++) {
		for (size_t i = 0; i < cc->n_tmpfs; i++)
			if (strcmp(cc->tmpfs[i].path, hiding[k]) == 0)
				return 1;
		for (size_t i = 0; i < n_vols; i++)
			if (strcmp(vols[i].destination, hiding[k]) == 0)
				return 1;
	}
	return 0;
}

/* The container's /etc/hosts in the overlay's upper directory: the link
 * BUNDLE_HOSTS_LINK, owned by the enclave's root (base). Its /etc is made
 * as the image has it (mode, owner), so the merged directory looks the
 * same. */
static int
hosts_link(const char *upper, const char *lower, unsigned base, struct err *err)
{
	char *etc = xasprintf("%s/etc", upper), *low = xasprintf("%s/etc", lower);
	char *link = xasprintf("%s/etc/hosts", upper);
	struct stat st = {.st_mode = 0755, .st_uid = base, .st_gid = base};
	int rc = 0;

	if (lstat(low, &st) == 0 && !S_ISDIR(st.st_mode))
		rc = err_make(err, ENOTDIR, "the image's /etc is not a directory");
	else if (mkdir(etc, st.st_mode & 07777) < 0 && errno != EEXIST)
		rc = err_make(err, errno, "mkdir %s", etc);
	else if (lchown(etc, st.st_uid, st.st_gid) < 0 || chmod(etc, st.st_mode & 07777) < 0)
		rc = err_make(err, errno, "chown %s", etc);
	else if ((unlink(link) < 0 && errno != ENOENT) || symlink(BUNDLE_HOSTS_LINK, link) < 0 ||
	         lchown(link, base, base) < 0)
		rc = err_make(err, errno, "link %s", link);
	free(etc);
	free(low);
	free(link);
	return rc;
}

/* Prepares the bundle of container i and creates it with the runtime. */
/* The overlay's upper directory, owned by the enclave's root (base: its
 * user namespace's, 0 without one): it is the root directory of the
 * container's file system, 0755 whatever berthd's umask (a container
 * running as another user crosses it). */
static int
owned_upper(const char *upper, unsigned base, struct err *err)
{
	if (mkdir_p(upper, 0755, err) < 0)
		return -1;
	if (chown(upper, base, base) < 0 || chmod(upper, 0755) < 0)
		return err_make(err, errno, "chown %s", upper);
	return 0;
}

static int
create_container(struct runtime *rt, const struct oci *oci, const struct enclave_spec *spec,
                 size_t i, const char *edir, const char *netns, const char *ipc_ns,
                 const char *ec_userns, struct enclave_container *ec, struct err *err)
{
	const struct enclave_container_spec *cs = &spec->containers[i];
	char *cdir = xasprintf("%s/%s", edir, cs->config->name);
	char *bdir = xasprintf("%s/%s/%s", rt->bundles_dir, spec->name, cs->config->name);
	/* What the container's own setup (runc init, inside its user namespace)
	 * reaches goes under the bundles directory, whose directories it may
	 * cross (0711): the root mount point and the files bound into it. The
	 * overlay's layers stay in the state directory: only the kernel,
	 * with berth's credentials, reads those. */
	char *rootfs = xasprintf("%s/rootfs", bdir), *upper = xasprintf("%s/upper", cdir);
	char *work = xasprintf("%s/work", cdir), *cfg = xasprintf("%s/config.json", bdir);
	char *hosts = xasprintf("%s/%s/hosts", rt->bundles_dir, spec->name);
	char *hosts_dir = xasprintf("%s/%s/" EGRESS_HOSTS_DIR, rt->bundles_dir, spec->name);
	/* The directory, whose file is replaced by a rename, where the link
	 * to it stays visible; else the file, rewritten in place. */
	int linked = !hides_etc_hosts(cs->config, cs->volumes, cs->n_volumes);
	char *resolv = xasprintf("%s/%s/resolv.conf", rt->bundles_dir, spec->name);
	int userns = ec_userns != NULL;
	int tinfoil = cs->n_keys > 0 || cs->config->attestation;
	char *tdir = xasprintf("%s/tinfoil", bdir);
	char *cgroup = cgroup_path(rt, spec->name);
	json_t *spec_json = NULL, *edits = NULL, *ann;
	int wfd = -1, rc = -1;
	struct bundle_input in = {
	    .id = ec->id,
	    .root_path = rootfs,
	    .cgroup_parent = cgroup,
	    .ipc_ns = ipc_ns,
	    .enclave_memory_bytes = spec->memory_bytes,
	    .userns = userns ? ec_userns : NULL,
	    .id_base = rt->userns_base,
	    .id_count = RUNTIME_USERNS_COUNT,
	    .cc = cs->config,
	    .image = cs->image,
	    .rootfs = cs->rootfs,
	    .netns = netns,
	    .hosts_file = linked ? NULL : hosts,
	    .hosts_dir = linked ? hosts_dir : NULL,
	    .resolv_file = resolv,
	    .settings = spec->settings,
	    .n_settings = spec->n_settings,
	    .secrets = spec->secrets,
	    .n_secrets = spec->n_secrets,
	    .volumes = cs->volumes,
	    .n_volumes = cs->n_volumes,
	    .tinfoil_dir = tinfoil ? tdir : NULL,
	};

	ann = json_pack("{s:s}", "berth.enclave", spec->name);
	if (spec->deployment_id != NULL)
		json_object_set_new(ann, "berth.deployment", json_string(spec->deployment_id));
	in.annotations = ann;
	if (config_container_wants_gpus(cs->config)) {
		size_t n = spec->n_gpus;

		if (cs->config->gpus > 0 && (size_t)cs->config->gpus < n)
			n = (size_t)cs->config->gpus;
		if (n == 0 || (cs->config->gpus > 0 && n < (size_t)cs->config->gpus)) {
			if (cs->config->gpus > 0)
				err_make(err, 0, "asks for %d GPU(s), the enclave was given %zu",
				         cs->config->gpus, spec->n_gpus);
			else
				err_make(err, 0, "asks for GPUs, the enclave was given none");
			goto out;
		}
		if (gpu_edits(&rt->gpus, spec->gpus, n, &edits, err) < 0)
			goto out;
		if (rt->gpus.simulated)
			log_warn("enclave %s: container %s asks for GPUs: simulated, none passed",
			         spec->name, cs->config->name);
		in.gpu_edits = edits;
	}
	if (bundle_spec(&in, &spec_json, err) < 0)
		goto out;
	ec->stop_signal = bundle_stop_signal(cs->config, cs->image, err);
	ec->stop_timeout_ms =
	    cs->config->stop_timeout_ms >= 0 ? cs->config->stop_timeout_ms : BUNDLE_STOP_TIMEOUT_MS;
	if (mkdir_p(cdir, 0700, err) < 0 || mkdir_p(bdir, 0711, err) < 0 || chmod(bdir, 0711) < 0 ||
	    write_json(cfg, spec_json, err) < 0 ||
	    (tinfoil && tinfoil_prepare(tdir, cs->keys, cs->n_keys, userns ? rt->userns_base : 0,
	                                cs->config->attestation, &ec->attest_fd, err) < 0) ||
	    owned_upper(upper, userns ? rt->userns_base : 0, err) < 0 ||
	    (linked && hosts_link(upper, cs->rootfs, userns ? rt->userns_base : 0, err) < 0) ||
	    linux_overlay_mount(cs->rootfs, upper, work, rootfs, err) < 0 ||
	    start_log_copier(rt, spec, bdir, ec->log_path, &wfd, err) < 0)
		goto out;
	/* The container's own stdout, which it may reopen (/proc/1/fd/1). */
	if (userns && fchown(wfd, rt->userns_base, rt->userns_base) < 0) {
		err_make(err, errno, "log pipe");
		goto out;
	}
	rc = oci_create(oci, ec->id, bdir, cs->config->attestation, wfd, err);
	if (rc == 0)
		ec->status = OCI_CREATED;
out:
	if (wfd >= 0)
		close(wfd);
	if (rc < 0)
		err_wrap(err, "container %s", cs->config->name);
	json_decref(spec_json);
	json_decref(edits);
	json_decref(ann);
	free(cdir);
	free(bdir);
	free(cgroup);
	free(rootfs);
	free(upper);
	free(work);
	free(cfg);
	free(hosts);
	free(hosts_dir);
	free(resolv);
	free(tdir);
	return rc;
}

/* What reaches hosts files and DNS queries: letters, digits, - and .,
 * labels of 1-63, at most 253 (the config checked RFC 1123 already). */
static int
hostname_safe(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253 ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != n)
		return 0;
	for (const char *p = s; *p != '\0'; p++) {
		label = *p == '.' ? 0 : label + 1;
		if (label > 63 || (*p == '.' && (p == s || p[1] == '.' || p[1] == '\0')))
			return 0;
	}
	return 1;
}

static int
validate_spec(const struct enclave_spec *spec, struct err *err)
{
	if (!enclave_name_valid(spec->name))
		return err_make(err, 0, "enclave name \"%s\" is not 1-%d of [a-z0-9-]",
		                spec->name ? spec->name : "", ENCLAVE_NAME_MAX);
	if (spec->n_containers == 0)
		return err_make(err, 0, "enclave %s: no container", spec->name);
	if (spec->egress != NULL && strcmp(spec->egress, "closed") != 0 &&
	    strcmp(spec->egress, "open") != 0 && strcmp(spec->egress, "allowlist") != 0)
		return err_make(err, 0,
		                "enclave %s: egress \"%s\" is not closed, open or allowlist",
		                spec->name, spec->egress);
	for (char *const *a = spec->allow; a != NULL && *a != NULL; a++)
		if (!hostname_safe(*a))
			return err_make(err, 0,
			                "enclave %s: allowlist entry \"%s\" is not a host name",
			                spec->name, *a);
	for (size_t i = 0; i < spec->n_containers; i++) {
		const struct enclave_container_spec *cs = &spec->containers[i];

		if (cs->config == NULL || !container_name_valid(cs->config->name))
			return err_make(err, 0, "enclave %s: container %zu has an invalid name",
			                spec->name, i);
		if (cs->rootfs == NULL || cs->rootfs[0] != '/')
			return err_make(err, 0, "container %s: rootfs must be an absolute path",
			                cs->config->name);
		for (size_t k = 0; k < i; k++)
			if (strcmp(spec->containers[k].config->name, cs->config->name) == 0)
				return err_make(err, 0, "enclave %s: container %s twice",
				                spec->name, cs->config->name);
	}
	return 0;
}

/* The OCI runtime of e's isolation level. */
static const struct oci *
enclave_oci(struct runtime *rt, const struct enclave *e, struct err *err)
{
	const struct oci *o = runtime_oci_for(rt, e->isolation, err);

	if (o == NULL)
		err_wrap(err, "enclave %s", e->name);
	return o;
}

/* The containers under every runtime's root, each with "isolation" added.
 * runsc is asked only when its root holds something (asking opens it). */
static int
oci_list_all(struct runtime *rt, json_t **out, struct err *err)
{
	json_t *all = NULL, *more = NULL, *c;
	size_t i;

	*out = NULL;
	if (oci_list(&rt->oci, &all, err) < 0)
		return -1;
	json_array_foreach(all, i, c) json_object_set_new(c, "isolation", json_string("runc"));
	if (dir_has_entries(rt->gvisor_root)) {
		const struct oci *g = runtime_oci_for(rt, "gvisor", err);

		if (g == NULL || oci_list(g, &more, err) < 0) {
			json_decref(all);
			return err_wrap(err, "containers under %s", rt->gvisor_root);
		}
		json_array_foreach(more, i, c)
		{
			json_object_set_new(c, "isolation", json_string("gvisor"));
			json_array_append(all, c);
		}
		json_decref(more);
	}
	*out = all;
	return 0;
}

static struct enclave *
enclave_new(const struct runtime *rt, const char *name, const char *deployment_id)
{
	struct enclave *e = xcalloc(1, sizeof *e);

	e->name = xstrdup(name);
	e->deployment_id = deployment_id != NULL ? xstrdup(deployment_id) : NULL;
	e->isolation = xstrdup("runc");
	e->netns = netns_path(rt, name);
	return e;
}

static void
container_init(const struct runtime *rt, struct enclave *e, struct enclave_container *ec,
               const char *cname)
{
	ec->name = xstrdup(cname);
	ec->id = xasprintf("%s-%s", e->name, cname);
	ec->log_path = xasprintf("%s/%s/%s/log", rt->enclaves_dir, e->name, cname);
	ec->status = OCI_ABSENT;
	ec->stop_signal = SIGTERM;
	ec->stop_timeout_ms = BUNDLE_STOP_TIMEOUT_MS;
	ec->attest_fd = -1;
}

/* The firewall of an enclave applied on a thread of its own. */
struct firewall_job {
	pthread_t thread;
	int started;
	const struct runtime *rt; /* borrowed */
	const struct enclave *e;  /* borrowed */
	char *const *allow;       /* borrowed: the allowlist's addresses */
	size_t n_allow;
	int rc;
	struct err err;
};

static void *
firewall_job_run(void *arg)
{
	struct firewall_job *j = arg;

	j->rc = apply_firewall(j->rt, j->e, j->allow, j->n_allow, &j->err);
	return NULL;
}

static int
firewall_job_start(struct firewall_job *j, const struct runtime *rt, const struct enclave *e,
                   char *const *allow, size_t n_allow, struct err *err)
{
	int rc;

	*j = (struct firewall_job){.rt = rt, .e = e, .allow = allow, .n_allow = n_allow};
	rc = pthread_create(&j->thread, NULL, firewall_job_run, j);
	if (rc != 0)
		return err_make(err, rc, "firewall of enclave %s: thread", e->name);
	j->started = 1;
	return 0;
}

/* Waits for the job; its error goes to err. */
static int
firewall_job_end(struct firewall_job *j, struct err *err)
{
	pthread_join(j->thread, NULL);
	j->started = 0;
	if (j->rc < 0)
		*err = j->err;
	return j->rc;
}

/* How long a holder of the address has to answer the probe: a reply across
 * a local bridge takes microseconds. */
#define ADDRESS_PROBE_MS 20

/* The answer to the address probe, if any, as the create's error. */
static int
address_probe_result(struct linux_arp_probe *p, const struct enclave *e, struct err *err)
{
	char mac[18];
	int rc = linux_arp_probe_wait(p, mac, err);

	if (rc > 0)
		return err_make(err, EADDRINUSE,
		                "address %s is held by %s on the bridge already (another berthd "
		                "on it, or a lost state directory): not used",
		                e->ip, mac);
	return rc;
}

/* The pid of container i's init, from the pid file of its create (it saves a
 * `state` call on the boot path); 0 when unknown. */
static pid_t
container_pid_file(const struct runtime *rt, const struct enclave *e, size_t i)
{
	char *pidp = xasprintf("%s/%s/%s/pid", rt->bundles_dir, e->name, e->containers[i].name);
	char *text = NULL;
	size_t len;
	struct err ignored = ERR_INIT;
	pid_t pid = 0;

	if (file_read_all(pidp, 64, &text, &len, &ignored) == 0)
		pid = (pid_t)atoi(text);
	free(text);
	free(pidp);
	return pid;
}

static size_t
ipc_host_count(const struct enclave_spec *spec)
{
	size_t n = 0;

	for (size_t i = 0; i < spec->n_containers; i++)
		n += spec->containers[i].config->ipc != NULL &&
		     strcmp(spec->containers[i].config->ipc, "host") == 0;
	return n;
}

/* Gives enclave e (record in edir) its addresses and records them with its
 * veth's name (net.json, before any of it is made: destroy finds them). With
 * egress open, an IPv6 address too when the host has an IPv6 subnet. */
static int
assign_network(struct runtime *rt, struct enclave *e, const char *edir, struct err *err)
{
	char ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN], veth[16], *path, *text;
	json_t *rec;
	int rc;

	netlink_veth_name(e->netns, veth);
	pthread_mutex_lock(&rt->lock);
	/* The bridge's IPv6 address (and the host's IPv6 forwarding) come
	 * with the first enclave that has IPv6, as they came with CNI's. */
	rc = netlink_bridge_ensure(rt->bridge, rt->gw4, rt->prefix4,
	                           e->egress_open && rt->gw6[0] ? rt->gw6 : NULL, rt->prefix6, err);
	if (rc == 0)
		rc = ipam_assign(&rt->ipam, e->name, e->egress_open, ip4, ip6, err);
	pthread_mutex_unlock(&rt->lock);
	if (rc < 0)
		return -1;
	e->ip = xstrdup(ip4);
	e->ip6 = ip6[0] ? xstrdup(ip6) : NULL;
	e->veth = xstrdup(veth);
	rec = json_pack("{s:s, s:s, s:s, s:s?}", "bridge", rt->bridge, "veth", veth, "ip", ip4,
	                "ip6", e->ip6);
	text = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
	path = xasprintf("%s/net.json", edir);
	rc = file_write_atomic(path, text, strlen(text), 0600, err);
	free(path);
	free(text);
	json_decref(rec);
	return rc;
}

/* Attaches e's namespace to the bridge with the addresses assign_network()
 * gave it; with egress open, default routes. */
static int
attach_network(struct runtime *rt, const struct enclave *e, struct err *err)
{
	struct netlink_attach a = {.bridge = rt->bridge,
	                           .gw4 = rt->gw4,
	                           .prefix4 = rt->prefix4,
	                           .gw6 = rt->gw6[0] ? rt->gw6 : NULL,
	                           .prefix6 = rt->prefix6,
	                           .netns = e->netns,
	                           .veth = e->veth,
	                           .ip4 = e->ip,
	                           .ip6 = e->ip6,
	                           .default_route = e->egress_open};

	return netlink_attach(&a, err);
}

int
enclave_create(struct runtime *rt, const struct enclave_spec *spec, struct enclave **out,
               struct err *err)
{
	struct enclave *e = NULL;
	char *edir = NULL, *path, *ipc_ns = NULL, *userns_path = NULL;
	struct linux_arp_probe probe = {.fd = -1};
	struct firewall_job fw = {0};
	struct egress_resolved resolved = {0};
	char **allow_addrs = NULL, *allow_section = NULL;
	size_t n_allow_addrs = 0;
	const struct oci *oci;
	json_t *rec = NULL, *names;
	int rc = -1, created_dir = 0;
	struct err ignored = ERR_INIT;

	*out = NULL;
	if (validate_spec(spec, err) < 0)
		return -1;
	oci = runtime_oci_for(rt, spec->isolation, err);
	if (oci == NULL)
		return err_wrap(err, "create enclave %s", spec->name);
	if (oci != &rt->oci && ipc_host_count(spec) > 1)
		return err_make(err, 0,
		                "create enclave %s: ipc: host is not available under gvisor "
		                "(each container is a sandbox of its own)",
		                spec->name);
	e = enclave_new(rt, spec->name, spec->deployment_id);
	free(e->isolation);
	e->isolation = xstrdup(spec->isolation != NULL ? spec->isolation : runtime_isolation(rt));
	e->containers = xcalloc(spec->n_containers, sizeof *e->containers);
	e->n_containers = spec->n_containers;
	e->egress_allowlist = spec->egress != NULL && strcmp(spec->egress, "allowlist") == 0;
	e->egress_open =
	    e->egress_allowlist || (spec->egress != NULL && strcmp(spec->egress, "open") == 0);
	if (e->egress_allowlist)
		e->allow = strv_dup(spec->allow);
	edir = enclave_dir(rt, spec->name);
	if (mkdir(edir, 0700) < 0) {
		if (errno == EEXIST)
			rc =
			    err_make(err, EEXIST, "enclave %s exists already (adopt or destroy it)",
			             spec->name);
		else
			rc = err_make(err, errno, "enclave %s", spec->name);
		goto out;
	}
	created_dir = 1;
	/* Record first: from here on, destroy finds whatever exists. */
	names = json_array();
	for (size_t i = 0; i < spec->n_containers; i++) {
		container_init(rt, e, &e->containers[i], spec->containers[i].config->name);
		json_array_append_new(names, json_pack("{s:s, s:s}", "name", e->containers[i].name,
		                                       "id", e->containers[i].id));
	}
	rec = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:o}", "name", e->name, "deployment_id",
	                e->deployment_id, "isolation", e->isolation, "egress",
	                e->egress_allowlist ? "allowlist"
	                : e->egress_open    ? "open"
	                                    : "closed",
	                "netns", e->netns, "containers", names);
	if (e->egress_allowlist) {
		json_t *a = json_array();

		for (char **n = e->allow; n != NULL && *n != NULL; n++)
			json_array_append_new(a, json_string(*n));
		json_object_set_new(rec, "allow", a);
	}
	path = xasprintf("%s/enclave.json", edir);
	rc = write_json(path, rec, err);
	free(path);
	if (rc < 0)
		goto out;
	/* The bundle directory of the enclave: crossed by its containers'
	 * setup (0711), listed and read by no one else. */
	path = bundle_dir(rt, e->name);
	rc = mkdir_p(path, 0711, err);
	if (rc == 0 && chmod(path, 0711) < 0)
		rc = err_make(err, errno, "chmod %s", path);
	free(path);
	/* runc: a user namespace of the enclave (its root is an unprivileged
	 * host id), owning its network namespace; gVisor's kernel keeps ids its
	 * own. */
	if (rc == 0 && oci == &rt->oci) {
		userns_path = userns_file(rt, e->name);
		rc = check_rootfs_owner(spec, rt->userns_base, err);
		if (rc == 0)
			rc = linux_userns_netns_create(userns_path, e->netns, rt->userns_base,
			                               RUNTIME_USERNS_COUNT, err);
	} else if (rc == 0) {
		rc = linux_netns_create(e->netns, err);
	}
	/* The allowlist's names, asked on the host before anything of the
	 * enclave's is made: a name without an address fails the boot. */
	if (rc == 0 && e->egress_allowlist && egress_resolve(rt, e->allow, &resolved, err) == 0) {
		allow_addrs = egress_addresses(&resolved, &n_allow_addrs);
		allow_section = egress_hosts_section(&resolved);
	} else if (e->egress_allowlist) {
		rc = -1;
	}
	if (rc < 0)
		goto out;
	rc = linux_netns_lo_up(e->netns, err);
	if (rc < 0)
		goto out;
	rc = assign_network(rt, e, edir, err);
	/* The boundary before anything runs in it: nft runs while the veth,
	 * the bundles and the containers are made (nothing of theirs runs
	 * before start). Its rules name the veth, which need not exist yet. */
	if (rc == 0)
		rc = firewall_job_start(&fw, rt, e, allow_addrs, n_allow_addrs, err);
	if (rc == 0)
		rc = attach_network(rt, e, err);
	/* An address someone else on the bridge still holds (another berthd on
	 * it, a lost state directory) would send this enclave's traffic there.
	 * The holder answers while the bundles are made; nothing starts
	 * before its answer is in. */
	if (rc == 0)
		rc = linux_arp_probe_start(&probe, e->netns, "eth0", e->ip, ADDRESS_PROBE_MS, err);
	if (rc == 0) {
		struct linux_cgroup_limits lim = {.memory_bytes = spec->memory_bytes,
		                                  .cpus = spec->cpus};
		char *cg = cgroup_path(rt, e->name);

		rc = linux_cgroup_create(cg, &lim, err);
		free(cg);
	}
	if (rc == 0) {
		path = bundle_dir(rt, e->name);
		rc = write_hosts(spec, path, e->ip, allow_section, err);
		free(path);
	}
	for (size_t i = 0; rc == 0 && i < spec->n_containers; i++) {
		rc = create_container(rt, oci, spec, i, edir, e->netns, ipc_ns, userns_path,
		                      &e->containers[i], err);
		/* The first container with ipc: host makes the enclave's ipc
		 * namespace; the next ones join it. */
		if (rc == 0 && ipc_ns == NULL && strcmp(e->isolation, "runc") == 0 &&
		    spec->containers[i].config->ipc != NULL &&
		    strcmp(spec->containers[i].config->ipc, "host") == 0) {
			pid_t pid = container_pid_file(rt, e, i);

			if (pid > 0)
				ipc_ns = xasprintf("/proc/%d/ns/ipc", (int)pid);
		}
	}
	if (fw.started && firewall_job_end(&fw, rc == 0 ? err : &ignored) < 0)
		rc = -1;
	if (rc == 0)
		rc = address_probe_result(&probe, e, err);
	/* Start only when every container was created and the address is
	 * ours: a failure above leaves nothing running. */
	for (size_t i = 0; rc == 0 && i < spec->n_containers; i++) {
		rc = oci_start(oci, e->containers[i].id, err);
		if (rc == 0) {
			e->containers[i].status = OCI_RUNNING;
			e->containers[i].pid = container_pid_file(rt, e, i);
		}
	}
	e->netns_present = rc == 0;
	if (rc == 0 && e->egress_allowlist)
		egress_schedule(rt, e->name, &resolved);
	if (rc == 0)
		log_info("enclave %s: up at %s%s%s, %zu container(s)", e->name, e->ip,
		         e->ip6 != NULL ? " and " : "", e->ip6 != NULL ? e->ip6 : "",
		         e->n_containers);
out:
	/* Joined before any cleanup: it reads e, and its tables must be in
	 * place for destroy to remove them. */
	if (fw.started)
		firewall_job_end(&fw, &ignored);
	if (rc < 0) {
		err_wrap(err, "create enclave %s", spec->name);
		if (created_dir && enclave_destroy(rt, spec->name, &ignored) < 0)
			log_error("enclave %s: cleanup after failed create: %s", spec->name,
			          ignored.msg);
		enclave_free(e);
	} else {
		*out = e;
	}
	if (probe.fd >= 0)
		close(probe.fd);
	json_decref(rec);
	free(edir);
	free(ipc_ns);
	free(userns_path);
	egress_resolved_free(&resolved);
	strv_free(allow_addrs);
	free(allow_section);
	return rc < 0 ? rc : 0;
}

/* Signals every running container, then waits for each up to its own
 * timeout from the same start, then SIGKILLs the rest. */
static int
stop_containers(const struct oci *oci, struct enclave_container *cs, size_t n, struct err *err)
{
	int64_t t0 = now_mono_ms();
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		struct oci_state st;

		if (oci_state(oci, cs[i].id, &st, err) < 0) {
			rc = -1;
			continue;
		}
		cs[i].status = st.status;
		cs[i].pid = st.pid;
		oci_state_free(&st);
		/* Created but never started: it waits for start, not for a
		 * signal; delete --force below ends it. */
		if (cs[i].status == OCI_CREATED)
			cs[i].pid = 0;
		if (cs[i].status == OCI_RUNNING || cs[i].status == OCI_PAUSED) {
			log_info("enclave: stopping %s (signal %d, %lld ms)", cs[i].id,
			         cs[i].stop_signal, (long long)cs[i].stop_timeout_ms);
			if (oci_kill(oci, cs[i].id, cs[i].stop_signal, err) < 0)
				rc = -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		int64_t left;
		int w;

		if (cs[i].pid <= 0)
			continue;
		left = t0 + cs[i].stop_timeout_ms - now_mono_ms();
		w = linux_pid_wait_exit(cs[i].pid, left > 0 ? (int)left : 0, err);
		if (w == 1) {
			struct err kerr = ERR_INIT;
			int killed;

			log_warn("enclave: %s ignored signal %d for %lld ms: SIGKILL", cs[i].id,
			         cs[i].stop_signal, (long long)cs[i].stop_timeout_ms);
			/* A kill can fail because the container is exiting by then
			 * (runsc's control server already gone): its exit is what
			 * counts, the kill's error only when it does not come. */
			killed = oci_kill(oci, cs[i].id, SIGKILL, &kerr);
			if (linux_pid_wait_exit(cs[i].pid, KILL_WAIT_MS, err) != 0) {
				if (killed < 0 && err != NULL)
					*err = kerr;
				rc = -1;
			}
		} else if (w < 0) {
			rc = -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (oci_delete(oci, cs[i].id, err) < 0) {
			rc = -1;
			continue;
		}
		cs[i].status = OCI_ABSENT;
		cs[i].pid = 0;
	}
	return rc;
}

int
enclave_stop(struct runtime *rt, struct enclave *e, struct err *err)
{
	const struct oci *oci = enclave_oci(rt, e, err);

	if (oci == NULL || stop_containers(oci, e->containers, e->n_containers, err) < 0)
		return err_wrap(err, "stop enclave %s", e->name);
	log_info("enclave %s: stopped", e->name);
	return 0;
}

static void
apply_annotations(struct enclave_container *ec, json_t *ann)
{
	const char *s = json_string_value(json_object_get(ann, "berth.stop-signal"));
	const char *t = json_string_value(json_object_get(ann, "berth.stop-timeout-ms"));

	if (s != NULL && bundle_signal_parse(s) > 0)
		ec->stop_signal = bundle_signal_parse(s);
	if (t != NULL)
		ec->stop_timeout_ms = strtoll(t, NULL, 10);
}

/* Reads the record and the runtime's view of enclave name. Containers found
 * under the runtime's root but not in the record are added (a record lost in
 * a crash must not hide a running container). */
static int
enclave_load(struct runtime *rt, const char *name, struct enclave **out, struct err *err)
{
	char *edir = enclave_dir(rt, name), *path = xasprintf("%s/enclave.json", edir);
	json_t *rec = json_load_file(path, 0, NULL), *list = NULL, *c;
	struct enclave *e = enclave_new(rt, name, NULL);
	size_t i;
	int rc = 0;

	*out = NULL;
	if (rec != NULL) {
		const char *d = json_string_value(json_object_get(rec, "deployment_id"));

		const char *iso = json_string_value(json_object_get(rec, "isolation"));
		const char *egress = json_string_value(json_object_get(rec, "egress"));

		json_t *an;
		size_t k;

		e->egress_allowlist = egress != NULL && strcmp(egress, "allowlist") == 0;
		e->egress_open =
		    e->egress_allowlist || (egress != NULL && strcmp(egress, "open") == 0);
		json_array_foreach(json_object_get(rec, "allow"), k, an)
		{
			const char *h = json_string_value(an);

			if (e->egress_allowlist && h != NULL && hostname_safe(h))
				e->allow = strv_push(e->allow, h);
		}
		if (d != NULL)
			e->deployment_id = xstrdup(d);
		if (iso != NULL && strcmp(iso, "gvisor") == 0) {
			free(e->isolation);
			e->isolation = xstrdup(iso);
		}
		e->containers = xcalloc(json_array_size(json_object_get(rec, "containers")) + 1,
		                        sizeof *e->containers);
		json_array_foreach(json_object_get(rec, "containers"), i, c)
		{
			const char *cn = json_string_value(json_object_get(c, "name"));

			if (cn != NULL && container_name_valid(cn))
				container_init(rt, e, &e->containers[e->n_containers++], cn);
		}
	}
	if (oci_list_all(rt, &list, err) < 0) {
		rc = -1;
		goto out;
	}
	json_array_foreach(list, i, c)
	{
		json_t *ann = json_object_get(c, "annotations");
		const char *en = json_string_value(json_object_get(ann, "berth.enclave"));
		const char *cn = json_string_value(json_object_get(ann, "berth.container"));
		const char *iso = json_string_value(json_object_get(c, "isolation"));

		if (en == NULL || cn == NULL || strcmp(en, name) != 0 ||
		    !container_name_valid(cn) || enclave_container_find(e, cn) != NULL)
			continue;
		/* Without a record, the runtime that holds it says. */
		if (rec == NULL && iso != NULL && strcmp(iso, e->isolation) != 0) {
			free(e->isolation);
			e->isolation = xstrdup(iso);
		}
		e->containers =
		    xreallocarray(e->containers, e->n_containers + 1, sizeof *e->containers);
		container_init(rt, e, &e->containers[e->n_containers++], cn);
	}
	if (rec == NULL && e->n_containers == 0 && access(edir, F_OK) < 0 &&
	    !linux_netns_exists(e->netns)) {
		rc = err_make(err, ENOENT, "enclave %s", name);
		goto out;
	}
	e->netns_present = linux_netns_exists(e->netns);
	net_record_load(edir, rt->bridge, e);
	*out = take_ptr(&e);
out:
	enclave_free(e);
	json_decref(rec);
	json_decref(list);
	free(path);
	free(edir);
	return rc;
}

int
enclave_state(struct runtime *rt, struct enclave *e, struct err *err)
{
	const struct oci *oci = enclave_oci(rt, e, err);

	if (oci == NULL)
		return -1;
	for (size_t i = 0; i < e->n_containers; i++) {
		struct enclave_container *ec = &e->containers[i];
		struct oci_state st;

		if (oci_state(oci, ec->id, &st, err) < 0)
			return err_wrap(err, "enclave %s", e->name);
		ec->status = st.status;
		ec->pid = st.pid;
		if (st.annotations == NULL && st.bundle != NULL) {
			/* Not every runtime's state lists annotations: the bundle has them. */
			char *cfg = xasprintf("%s/config.json", st.bundle);
			json_t *j = json_load_file(cfg, 0, NULL);

			apply_annotations(ec, json_object_get(j, "annotations"));
			json_decref(j);
			free(cfg);
		}
		apply_annotations(ec, st.annotations);
		oci_state_free(&st);
	}
	return 0;
}

/* Rules are kernel state and survive berthd, but not a flush of the
 * ruleset by someone else: an adopted enclave gets its tables back. */
static int
ensure_firewall(const struct runtime *rt, const struct enclave *e, struct err *err)
{
	int rc = firewall_present(e->name, err);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	{
		/* The allowlist's addresses as last resolved: its hosts section. */
		char *hosts = xasprintf("%s/%s/hosts", rt->bundles_dir, e->name);
		size_t n = 0;
		char **allow = e->egress_allowlist ? egress_hosts_addresses(hosts, &n) : NULL;

		log_warn("enclave %s: firewall tables missing: installed again", e->name);
		rc = apply_firewall(rt, e, allow, n, err);
		strv_free(allow);
		free(hosts);
	}
	return rc;
}

/* Log copiers end with the berthd that started them (copiers_end_with_us):
 * the running containers of an adopted enclave get theirs again, on the FIFO
 * that kept their output meanwhile. One that runs already is left alone, so
 * this repeats safely (the monitor adopts every second). Failures are logged:
 * the enclave still serves. */
static void
resume_log_copiers(struct runtime *rt, const struct enclave *e)
{
	for (size_t i = 0; i < e->n_containers; i++) {
		const struct enclave_container *ec = &e->containers[i];
		char *bdir;
		struct logcopy_opts o = {.path = ec->log_path,
		                         .max_bytes = rt->log_max_bytes,
		                         .lifeline = rt->lifeline[0]};
		struct err err = ERR_INIT;

		if (ec->status != OCI_RUNNING && ec->status != OCI_CREATED &&
		    ec->status != OCI_PAUSED)
			continue;
		bdir = xasprintf("%s/%s/%s", rt->bundles_dir, e->name, ec->name);
		o.dir = bdir;
		if (logcopy_resume(&o, &err) < 0 && err.code != ENOENT)
			log_warn("enclave %s: container %s: its log copier: %s", e->name, ec->name,
			         err.msg);
		free(bdir);
	}
}

int
enclave_adopt(struct runtime *rt, const char *name, struct enclave **out, struct err *err)
{
	int rc;

	*out = NULL;
	if (!enclave_name_valid(name))
		return err_make(err, 0, "enclave name \"%s\" is not valid", name);
	if (enclave_load(rt, name, out, err) < 0)
		return err_wrap(err, "adopt");
	rc = enclave_state(rt, *out, err);
	if (rc == 0 && (*out)->netns_present)
		rc = ensure_firewall(rt, *out, err);
	if (rc == 0 && (*out)->netns_present && (*out)->egress_allowlist) {
		/* Failures are logged: the enclave keeps its last addresses. */
		char *hosts = xasprintf("%s/%s/hosts", rt->bundles_dir, name);
		struct err eerr = ERR_INIT;

		if (egress_refresh(rt, name, (*out)->allow, hosts, &eerr) < 0)
			log_warn("%s", eerr.msg);
		free(hosts);
	}
	if (rc == 0)
		resume_log_copiers(rt, *out);
	if (rc < 0) {
		enclave_free(take_ptr(out));
		return err_wrap(err, "adopt");
	}
	log_debug("enclave %s: adopted (%s)", name, enclave_observed_str(enclave_observed(*out)));
	return 0;
}

int
enclave_destroy(struct runtime *rt, const char *name, struct err *err)
{
	struct enclave *e = NULL;
	char *edir, *path;
	struct err step = ERR_INIT;
	int rc = 0;
	DIR *d;

	if (!enclave_name_valid(name))
		return err_make(err, 0, "enclave name \"%s\" is not valid", name);
	edir = enclave_dir(rt, name);
	/* Keep going past a failed step, reporting the first failure. */
#define STEP(call)                                                                                 \
	do {                                                                                       \
		if ((call) < 0 && rc == 0) {                                                       \
			rc = -1;                                                                   \
			*err = step;                                                               \
		}                                                                                  \
		err_clear(&step);                                                                  \
	} while (0)
	if (enclave_load(rt, name, &e, &step) == 0) {
		if (enclave_state(rt, e, &step) < 0)
			STEP(-1);
		const struct oci *oci = enclave_oci(rt, e, &step);

		STEP(oci != NULL ? stop_containers(oci, e->containers, e->n_containers, &step)
		                 : -1);
	} else if (step.code != ENOENT) {
		STEP(-1);
	}
	err_clear(&step);
	/* Root mounts: in the bundle directory, and in the state directory
	 * where enclaves made before it kept them. */
	for (int k = 0; k < 2; k++) {
		char *dir = k == 0 ? bundle_dir(rt, name) : xstrdup(edir);

		d = opendir(dir);
		for (struct dirent *de; d != NULL && (de = readdir(d)) != NULL;) {
			char *rootfs;

			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			rootfs = xasprintf("%s/%s/rootfs", dir, de->d_name);
			STEP(linux_umount(rootfs, &step));
			free(rootfs);
		}
		if (d != NULL)
			closedir(d);
		free(dir);
	}
	/* The veth goes with the namespace; deleted first all the same, by
	 * its record's name or the one it would have (a namespace kept by a
	 * process that entered it keeps its end alive). */
	path = netns_path(rt, name);
	{
		char veth[16];

		netlink_veth_name(path, veth);
		pthread_mutex_lock(&rt->lock);
		STEP(netlink_detach(e != NULL && e->veth != NULL ? e->veth : veth, &step));
		STEP(ipam_release(&rt->ipam, name, &step));
		pthread_mutex_unlock(&rt->lock);
	}
	STEP(linux_netns_remove(path, &step));
	free(path);
	path = userns_file(rt, name);
	STEP(linux_netns_remove(path, &step));
	free(path);
	STEP(firewall_remove(name, &step));
	egress_forget(rt, name);
	path = cgroup_path(rt, name);
	STEP(linux_cgroup_remove(path, &step));
	free(path);
	path = bundle_dir(rt, name);
	STEP(linux_remove_tree(path, &step));
	free(path);
	if (rc == 0)
		STEP(linux_remove_tree(edir, &step));
#undef STEP
	if (rc < 0)
		err_wrap(err, "destroy enclave %s", name);
	else
		log_info("enclave %s: destroyed", name);
	enclave_free(e);
	free(edir);
	return rc;
}

int
enclave_keep_logs(struct runtime *rt, const char *name, const char *dest, struct err *err)
{
	static const char *const files[] = {"log", "log.1"};
	char *edir = enclave_dir(rt, name);
	struct dirent *de;
	DIR *d = opendir(edir);
	int rc = 0;

	if (d == NULL) {
		free(edir);
		return 0; /* no enclave directory: nothing was written */
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char *sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", dest, de->d_name);
		for (size_t i = 0; rc == 0 && i < ARRAY_LEN(files); i++) {
			char *from = xasprintf("%s/%s/%s", edir, de->d_name, files[i]);
			char *to = xasprintf("%s/%s", sub, files[i]);

			if (access(from, F_OK) == 0 &&
			    ((rc = mkdir_p(sub, 0700, err)) < 0 ||
			     (rename(from, to) < 0 &&
			      (rc = err_make(err, errno, "keep %s as %s", from, to)) < 0)))
				err_wrap(err, "logs of enclave %s", name);
			free(from);
			free(to);
		}
		free(sub);
	}
	closedir(d);
	free(edir);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
enclave_list(struct runtime *rt, char ***names, struct err *err)
{
	char **v = NULL;
	json_t *list = NULL, *c;
	size_t i;
	DIR *d;

	*names = NULL;
	d = opendir(rt->enclaves_dir);
	if (d == NULL)
		return err_make(err, errno, "open %s", rt->enclaves_dir);
	for (struct dirent *de; (de = readdir(d)) != NULL;)
		if (enclave_name_valid(de->d_name))
			v = strv_push(v, de->d_name);
	closedir(d);
	/* A namespace or a bundle without a record is an orphan (its record
	 * was lost): listed so that it gets destroyed. */
	for (int k = 0; k < 2; k++) {
		d = opendir(k == 0 ? rt->netns_dir : rt->bundles_dir);
		for (struct dirent *de; d != NULL && (de = readdir(d)) != NULL;)
			if (enclave_name_valid(de->d_name) && !strv_contains(v, de->d_name))
				v = strv_push(v, de->d_name);
		if (d != NULL)
			closedir(d);
	}
	if (oci_list_all(rt, &list, err) < 0) {
		strv_free(v);
		return err_wrap(err, "list enclaves");
	}
	json_array_foreach(list, i, c)
	{
		const char *en = json_string_value(
		    json_object_get(json_object_get(c, "annotations"), "berth.enclave"));

		if (en != NULL && enclave_name_valid(en) && !strv_contains(v, en))
			v = strv_push(v, en);
	}
	json_decref(list);
	if (v != NULL)
		qsort(v, strv_len(v), sizeof *v, cmp_str);
	*names = v;
	return 0;
}

enum enclave_observed
enclave_observed(const struct enclave *e)
{
	size_t running = 0, present = 0;

	for (size_t i = 0; i < e->n_containers; i++) {
		running += e->containers[i].status == OCI_RUNNING;
		present += e->containers[i].status != OCI_ABSENT;
	}
	if (present == 0)
		return ENCLAVE_OBSERVED_ABSENT;
	if (running == e->n_containers)
		return ENCLAVE_OBSERVED_RUNNING;
	return running > 0 ? ENCLAVE_OBSERVED_PARTIAL : ENCLAVE_OBSERVED_STOPPED;
}

const char *
enclave_observed_str(enum enclave_observed o)
{
	switch (o) {
	case ENCLAVE_OBSERVED_ABSENT:
		return "absent";
	case ENCLAVE_OBSERVED_RUNNING:
		return "running";
	case ENCLAVE_OBSERVED_PARTIAL:
		return "partial";
	case ENCLAVE_OBSERVED_STOPPED:
		return "stopped";
	}
	return "?";
}

int
enclave_exec(struct runtime *rt, const struct enclave *e, const char *container, char *const *argv,
             int64_t timeout_ms, int *exit_code, char **output, struct err *err)
{
	const struct enclave_container *ec = enclave_container_find(e, container);

	*exit_code = -1;
	*output = NULL;
	if (ec == NULL)
		return err_make(err, ENOENT, "enclave %s: no container %s", e->name, container);
	if (argv == NULL || argv[0] == NULL)
		return err_make(err, 0, "enclave %s: exec: empty command", e->name);
	{
		const struct oci *oci = enclave_oci(rt, e, err);

		if (oci == NULL)
			return -1;
		return oci_exec(oci, ec->id, argv, timeout_ms, exit_code, output, err);
	}
}

int
enclave_check_network(struct runtime *rt, const struct enclave *e, struct err *err)
{
	int rc;

	if (!linux_netns_exists(e->netns))
		return err_make(err, ENOENT, "enclave %s: network namespace %s", e->name, e->netns);
	if (e->veth == NULL || e->ip == NULL)
		rc = err_make(err, ENOENT, "enclave %s: no network record", e->name);
	else
		rc = netlink_check(rt->bridge, e->veth, e->netns, e->ip, err);
	if (rc < 0)
		err_wrap(err, "enclave %s: network check", e->name);
	return rc;
}

int
enclave_log_tail(const struct runtime *rt, const struct enclave *e, const char *container,
                 size_t lines, char **out, struct err *err)
{
	const struct enclave_container *ec = enclave_container_find(e, container);
	struct buf b = BUF_INIT;
	size_t max = (size_t)rt->log_max_bytes + 1, n = 0;
	const char *start;

	*out = NULL;
	if (ec == NULL)
		return err_make(err, ENOENT, "enclave %s: no container %s", e->name, container);
	/* The rotated file first: it holds the older lines. */
	for (int i = 0; i < 2; i++) {
		char *path = i == 0 ? xasprintf("%s.1", ec->log_path) : xstrdup(ec->log_path),
		     *text;
		size_t len;
		struct err ignored = ERR_INIT;

		if (file_read_all(path, max, &text, &len, &ignored) == 0) {
			buf_append(&b, text, len);
			free(text);
		}
		free(path);
	}
	buf_puts(&b, "");
	/* Back from the end (a final newline ends the last line, it does not
	 * start one) to the newline before the first wanted line. */
	start = b.data;
	if (lines == 0) {
		start = b.data + b.len;
	} else {
		ssize_t k = (ssize_t)b.len - (b.len > 0 && b.data[b.len - 1] == '\n' ? 2 : 1);

		for (; k >= 0; k--) {
			if (b.data[k] == '\n' && ++n == lines) {
				start = b.data + k + 1;
				break;
			}
		}
	}
	*out = xstrdup(start);
	buf_free(&b);
	return 0;
}
