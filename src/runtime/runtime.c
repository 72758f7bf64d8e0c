/* runtime: settings, directories and detection at start-up. */
#include "runtime/runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "runtime/linux.h"
#include "runtime/runtime-internal.h"

/* Bundles are config.json files of a few KiB each. */
#define BUNDLES_TMPFS_MIB 64

static int
subnet_valid(const char *s)
{
	unsigned a, b, c, d, len;
	char tail;

	return sscanf(s, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &len, &tail) == 5 && a < 256 &&
	       b < 256 && c < 256 && d < 256 && len >= 8 && len <= 30;
}

/* The enclaves' IPv6 subnet of settings s (owned), or NULL for none: a
 * unique local prefix made of the IPv4 subnet's address, so that two
 * runtimes on different IPv4 subnets have different IPv6 ones. */
static char *
subnet6_of(const struct runtime_settings *s, const char *subnet4)
{
	unsigned a, b, c, d;

	if (s->subnet6 != NULL)
		return strcmp(s->subnet6, "none") == 0 ? NULL : xstrdup(s->subnet6);
	if (!linux_ipv6_default_route() || sscanf(subnet4, "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
		return NULL;
	return xasprintf("fd62:%02x%02x:%02x%02x::/64", a, b, c, d);
}

static int
subnet6_valid(const char *s)
{
	char addr[INET6_ADDRSTRLEN];
	struct in6_addr a;
	unsigned len;
	char tail;

	if (strcmp(s, "none") == 0)
		return 1;
	return sscanf(s, "%45[0-9a-fA-F:]/%u%c", addr, &len, &tail) == 2 &&
	       inet_pton(AF_INET6, addr, &a) == 1 && len >= 48 && len <= 120 &&
	       (a.s6_addr[0] & 0xfe) == 0xfc;
}

static int
name_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < IFNAMSIZ && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/* The setup of a container in a user namespace crosses the directories
 * down to its bundle as an unprivileged id: they get search permission
 * (never read: nothing is listed). The first level ("/run") is left alone. */
static int
searchable_parents(const char *dir, struct err *err)
{
	char *p = xstrdup(dir);
	int rc = 0;

	for (char *s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		struct stat st;

		*s = '\0';
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
		    (st.st_mode & 0011) != 0011 && chmod(p, (st.st_mode & 07777) | 0011) < 0)
			rc = err_make(err, errno, "chmod %s", p);
		*s = '/';
		if (rc < 0)
			break;
	}
	free(p);
	return rc;
}

int
runtime_open(const struct runtime_settings *s, struct runtime **out, struct err *err)
{
	struct runtime *rt;
	char *oci_root;
	int rc = -1;

	*out = NULL;
	if (s->state_dir == NULL || s->state_dir[0] != '/')
		return err_make(err, 0, "runtime: the state directory must be an absolute path");
	if (s->subnet != NULL && !subnet_valid(s->subnet))
		return err_make(err, 0, "runtime: subnet \"%s\" is not an IPv4 CIDR (/8 to /30)",
		                s->subnet);
	if (s->subnet6 != NULL && !subnet6_valid(s->subnet6))
		return err_make(err, 0,
		                "runtime: subnet6 \"%s\" is not a unique local IPv6 CIDR "
		                "(fc00::/7, /48 to /120) or none",
		                s->subnet6);
	if (s->bridge != NULL && !name_valid(s->bridge))
		return err_make(err, 0, "runtime: bridge name \"%s\" is not a valid interface name",
		                s->bridge);
	if (s->isolation != NULL && strcmp(s->isolation, "runc") != 0 &&
	    strcmp(s->isolation, "gvisor") != 0)
		return err_make(err, 0, "runtime: isolation \"%s\" is neither runc nor gvisor",
		                s->isolation);
	rt = xcalloc(1, sizeof *rt);
	pthread_mutex_init(&rt->lock, NULL);
	pthread_mutex_init(&rt->gvisor_lock, NULL);
	pthread_mutex_init(&rt->egress_lock, NULL);
	rt->isolation = xstrdup(s->isolation != NULL ? s->isolation : "runc");
	rt->userns_base = s->userns_base != 0 ? s->userns_base : RUNTIME_USERNS_BASE;
	rt->upstream_mark = s->upstream_mark;
	rt->runsc = xstrdup(s->runsc != NULL ? s->runsc : "runsc");
	rt->state_dir = xstrdup(s->state_dir);
	rt->enclaves_dir = xasprintf("%s/enclaves", s->state_dir);
	rt->netns_dir = xstrdup(s->netns_dir ? s->netns_dir : "/run/berth/netns");
	{
		/* Bundles hold secrets (config.json's env): beside the namespaces,
		 * on /run's tmpfs, never in the state directory. */
		const char *slash = strrchr(rt->netns_dir, '/');

		rt->bundles_dir =
		    slash != NULL && slash != rt->netns_dir
		        ? xasprintf("%.*s/bundles", (int)(slash - rt->netns_dir), rt->netns_dir)
		        : xstrdup("/run/berth/bundles");
	}
	rt->bridge = xstrdup(s->bridge ? s->bridge : "berth0");
	rt->cgroup_parent = xstrdup(s->cgroup_parent ? s->cgroup_parent : "berth");
	rt->subnet = xstrdup(s->subnet ? s->subnet : "10.213.0.0/16");
	rt->subnet6 = subnet6_of(s, rt->subnet);
	rt->ipam_dir = xasprintf("%s/ipam/%s", s->state_dir, rt->bridge);
	rt->log_max_bytes = s->log_max_bytes > 0 ? s->log_max_bytes : 1 << 20;
	rt->lifeline[0] = rt->lifeline[1] = -1;
	rt->dns_timeout_ms =
	    s->egress_dns_timeout_ms > 0 ? s->egress_dns_timeout_ms : RESOLVE_TIMEOUT_MS;
	{
		/* A server named and wrong is the operator's mistake: said now.
		 * None named and none in resolv.conf: said to the allowlists. */
		struct err derr = ERR_INIT;

		if (resolve_server_parse(s->egress_dns, NULL, &rt->dns, &derr) < 0) {
			if (s->egress_dns != NULL && s->egress_dns[0] != '\0') {
				err_make(err, 0, "runtime: --egress-dns: %s", derr.msg);
				goto out;
			}
			rt->dns_error = xstrdup(derr.msg);
		}
	}
	if (s->copiers_end_with_us && pipe2(rt->lifeline, O_CLOEXEC) < 0) {
		err_make(err, errno, "runtime: lifeline pipe");
		goto out;
	}
	{
		char *legacy = xasprintf("%s/cni/%s", s->state_dir, rt->bridge);

		rc = ipam_open(&rt->ipam, rt->ipam_dir, legacy, rt->subnet, rt->subnet6, err);
		free(legacy);
		if (rc < 0)
			goto out;
		rc = -1;
		rt->prefix4 = rt->ipam.prefix4;
		rt->prefix6 = rt->ipam.prefix6;
		ipam_gateways(&rt->ipam, rt->gw4, rt->gw6);
	}
	if (mkdir_p(rt->enclaves_dir, 0700, err) < 0 || mkdir_p(rt->netns_dir, 0755, err) < 0 ||
	    (rt->bundles_mounted = linux_tmpfs_ensure(rt->bundles_dir, BUNDLES_TMPFS_MIB, err)) <
	        0 ||
	    searchable_parents(rt->bundles_dir, err) < 0)
		goto out;
	oci_root = xstrdup(s->oci_root ? s->oci_root : "/run/berth/oci");
	rt->gvisor_root = xasprintf("%s-runsc", oci_root);
	rc = oci_open(&rt->oci, s->oci_runtime, oci_root, err);
	free(oci_root);
	if (rc < 0)
		goto out;
	/* A host whose default is gvisor must have it from the start. */
	if (strcmp(rt->isolation, "gvisor") == 0 && runtime_oci_for(rt, "gvisor", err) == NULL) {
		rc = -1;
		goto out;
	}
	if (s->probe_isolation) {
		struct err ignored = ERR_INIT;

		runtime_oci_for(rt, "gvisor", &ignored);
	}
	rc = gpu_inventory_scan(s->dev_dir ? s->dev_dir : "/dev", s->gpus_simulated, NULL,
	                        &rt->gpus, err);
	if (rc < 0)
		goto out;
	log_info("runtime: %s (%s), root %s, bridge %s %s %s", rt->oci.name, rt->oci.binary,
	         rt->oci.root, rt->bridge, rt->subnet,
	         rt->subnet6 != NULL ? rt->subnet6 : "(no IPv6)");
	*out = take_ptr(&rt);
	rc = 0;
out:
	if (rt != NULL) {
		runtime_close(rt);
		if (rc == 0)
			rc = -1;
	}
	return rc;
}

void
runtime_close(struct runtime *rt)
{
	if (rt == NULL)
		return;
	/* The tmpfs berth mounted for bundles goes with the last enclave; while
	 * enclaves run it stays, as their namespaces do. */
	if (rt->bundles_mounted > 0 && rmdir(rt->bundles_dir) < 0 && errno == EBUSY &&
	    !dir_has_entries(rt->bundles_dir) && umount2(rt->bundles_dir, MNT_DETACH) == 0)
		rmdir(rt->bundles_dir);
	oci_free(&rt->oci);
	oci_free(&rt->gvisor);
	for (int i = 0; i < 2; i++)
		if (rt->lifeline[i] >= 0)
			close(rt->lifeline[i]);
	pthread_mutex_destroy(&rt->gvisor_lock);
	pthread_mutex_destroy(&rt->egress_lock);
	free(rt->dns_error);
	for (struct egress_due *d = rt->egress_due, *next; d != NULL; d = next) {
		next = d->next;
		free(d->name);
		free(d);
	}
	free(rt->isolation);
	free(rt->runsc);
	free(rt->gvisor_root);
	gpu_inventory_free(&rt->gpus);
	free(rt->state_dir);
	free(rt->enclaves_dir);
	free(rt->netns_dir);
	free(rt->bundles_dir);
	free(rt->bridge);
	free(rt->cgroup_parent);
	free(rt->subnet);
	free(rt->subnet6);
	free(rt->ipam_dir);
	ipam_close(&rt->ipam);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

const char *
runtime_oci_name(const struct runtime *rt)
{
	return rt->oci.name;
}

const struct gpu_inventory *
runtime_gpus(const struct runtime *rt)
{
	return &rt->gpus;
}

unsigned
runtime_rootfs_owner(const struct runtime *rt, const char *iso, int gpus)
{
	if (iso == NULL)
		iso = rt->isolation;
	return strcmp(iso, "runc") == 0 && !gpus ? rt->userns_base : 0;
}

const char *
runtime_isolation(const struct runtime *rt)
{
	return rt->isolation;
}

const char *
runtime_version(struct runtime *rt, const char *iso)
{
	struct err ignored = ERR_INIT;
	const struct oci *o;

	if (runtime_isolation_available(rt, iso, &ignored) <= 0)
		return NULL;
	o = runtime_oci_for(rt, iso, &ignored);
	return o != NULL ? o->version : NULL;
}

const struct oci *
runtime_oci_for(struct runtime *rt, const char *iso, struct err *err)
{
	const struct oci *o = NULL;

	if (iso == NULL)
		iso = rt->isolation;
	if (strcmp(iso, "runc") == 0)
		return &rt->oci;
	if (strcmp(iso, "gvisor") != 0) {
		err_make(err, 0, "unknown isolation level \"%s\" (runc or gvisor)", iso);
		return NULL;
	}
	pthread_mutex_lock(&rt->gvisor_lock);
	if (rt->gvisor_state == 0) {
		if (oci_open(&rt->gvisor, rt->runsc, rt->gvisor_root, &rt->gvisor_error) == 0 &&
		    strcmp(rt->gvisor.name, "runsc") == 0) {
			rt->gvisor_state = 1;
			log_info("runtime: gvisor available (%s, platform ptrace)",
			         rt->gvisor.binary);
		} else {
			if (!err_isset(&rt->gvisor_error))
				err_make(&rt->gvisor_error, 0, "%s is not runsc", rt->runsc);
			oci_free(&rt->gvisor);
			rt->gvisor_state = -1;
			log_warn("runtime: gvisor not available: %s", rt->gvisor_error.msg);
		}
	}
	if (rt->gvisor_state == 1)
		o = &rt->gvisor;
	else
		err_make(err, 0, "isolation gvisor is not available on this host: %s",
		         rt->gvisor_error.msg);
	pthread_mutex_unlock(&rt->gvisor_lock);
	return o;
}

int
runtime_isolation_available(struct runtime *rt, const char *iso, struct err *err)
{
	return runtime_oci_for(rt, iso, err) != NULL;
}
