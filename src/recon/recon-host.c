/* recon-host: the real host of the reconciler (recon-host.h): the runtime,
 * the image cache, the health checkers and berth-router's admin API, plus
 * starting berth-router when nobody answers on its socket. */
#include "recon/recon-host.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "image/image.h"
#include "model/model.h"
#include "recon/router-socks.h"
#include "router/router_client.h"
#include "runtime/enclave.h"
#include "runtime/linux.h"
#include "runtime/runtime.h"
#include "secret/hostkey.h"

struct recon_host_local {
	struct recon_host base;
	struct runtime *rt;                   /* borrowed */
	struct recon_host_settings settings;  /* strings borrowed */
	const _Atomic int *stopping;          /* borrowed */
	struct image_cache *images;           /* owned */
	char *rootfs_dir;                     /* owned: <state>/rootfs, unpacked images */
	struct image_settings image_settings; /* borrows settings */
	struct router_socks socks;            /* the router's listening sockets */
};

static struct recon_host_local *
local_of(struct recon_host *h)
{
	return (struct recon_host_local *)h;
}

struct boot_pull {
	struct recon_host_local *host;
	const struct recon_boot_spec *spec;
	size_t index, count;
};

static int
boot_on_progress(uint64_t done, uint64_t total, void *arg)
{
	struct boot_pull *p = arg;
	uint64_t pct = total > 0 ? done * 100 / total : 0;

	atomic_store(p->spec->percent, (int)((p->index * 100 + pct) / p->count));
	/* Non-zero cancels the pull: the daemon is stopping. */
	return atomic_load(p->host->stopping) != 0;
}

/* Pulls the image of cc, with its `registry` credentials when it has some:
 * the password is the value of the bound secret bs holds under that name. */
static int
pull_image(struct recon_host_local *host, const struct recon_boot_spec *bs,
           const struct config_container *cc, image_progress_fn progress, void *arg,
           struct image **out, struct err *err)
{
	struct image_settings settings = host->image_settings;
	struct image_registry_auth auth = {0};
	struct image_ref ref;
	size_t i;
	int rc;

	if (cc->registry_username == NULL || cc->registry_password_secret == NULL)
		return image_pull(host->images, &settings, cc->image, progress, arg, out, err);
	for (i = 0; i < bs->n_secrets; i++)
		if (strcmp(bs->secrets[i].key, cc->registry_password_secret) == 0)
			break;
	if (i == bs->n_secrets)
		return err_make(err, ENOENT,
		                "the registry password secret %s of container %s is not bound "
		                "to the deployment",
		                cc->registry_password_secret, cc->name);
	if (image_ref_parse(cc->image, &ref, err) < 0)
		return -1;
	auth.host = ref.host;
	auth.username = cc->registry_username;
	auth.password = bs->secrets[i].value;
	settings.auths = &auth;
	settings.n_auths = 1;
	rc = image_pull(host->images, &settings, cc->image, progress, arg, out, err);
	image_ref_clear(&ref);
	return rc;
}

/* The directory of container_id's persistent volumes (owned). */
static char *
volumes_dir(const struct recon_host_local *host, const char *container_id)
{
	return xasprintf("%s/volumes/%s", host->settings.state_dir, container_id);
}

/* The persistent volumes of cc as mounts (*out, an owned array of n, its
 * sources in *paths): each a directory <state>/volumes/<container>/<name>,
 * made on first use owned by the volume's `owner` as the enclave sees it
 * (shifted by owner, the host id of the enclave's root), kept as it is
 * afterwards. */
static int
prepare_volumes(struct recon_host_local *host, const struct recon_boot_spec *bs,
                const struct config_container *cc, unsigned owner, struct bundle_mount **out,
                size_t *n, char ***paths, struct err *err)
{
	size_t count = strv_len(cc->persistent_volumes);
	char *top;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (count == 0)
		return 0;
	top = volumes_dir(host, bs->container_id);
	/* Crossed by the containers' setup, listed by no one else. */
	if (mkdir_p(top, 0711, err) < 0)
		rc = -1;
	else if (chmod(top, 0711) < 0)
		rc = err_make(err, errno, "chmod %s", top);
	if (rc < 0) {
		free(top);
		return rc;
	}
	*out = xcalloc(count, sizeof **out);
	for (size_t i = 0; i < count && rc == 0; i++) {
		const char *item = cc->persistent_volumes[i], *colon = strchr(item, ':');
		char *name = xstrndup(item, colon != NULL ? (size_t)(colon - item) : 0);
		const struct config_volume *vol = config_volume_find(bs->cfg, name);
		char *dir = xasprintf("%s/%s", top, name);

		if (vol == NULL || colon == NULL) {
			rc = err_make(err, 0, "container %s: volume %s is not declared", cc->name,
			              name);
		} else if (mkdir(dir, 0750) == 0) {
			if (chown(dir, owner + vol->uid, owner + vol->gid) < 0) {
				rc = err_make(err, errno, "chown %s", dir);
				rmdir(dir);
			}
		} else if (errno != EEXIST) {
			rc = err_make(err, errno, "volume %s: mkdir %s", name, dir);
		}
		if (rc == 0) {
			*paths = strv_push(*paths, dir);
			(*out)[*n].source = (*paths)[strv_len(*paths) - 1];
			(*out)[*n].destination = colon + 1;
			(*out)[*n].exec = vol->exec;
			(*n)++;
		}
		free(dir);
		free(name);
	}
	free(top);
	return rc;
}

/* Pulls and unpacks the image of every container, then creates the enclave.
 * Runs on a worker: touches only the spec, the runtime and the image cache. */
static int
local_boot(struct recon_host *h, const struct recon_boot_spec *bs, struct enclave **out,
           struct err *err)
{
	struct recon_host_local *host = local_of(h);
	const struct config *cfg = bs->cfg;
	size_t n = cfg->n_containers;
	struct image **imgs = xcalloc(n, sizeof *imgs);
	struct enclave_container_spec *specs = xcalloc(n, sizeof *specs);
	char **rootfs = xcalloc(n, sizeof *rootfs);
	struct bundle_mount **mounts = xcalloc(n, sizeof *mounts);
	struct bundle_key **keys = xcalloc(n, sizeof *keys);
	char **volume_paths = NULL, **allow = NULL;
	struct enclave_spec spec = {0};
	/* Images unpacked owned by the enclave's root (its user namespace's
	 * range), kept apart from the same image unpacked as it is. */
	unsigned owner = runtime_rootfs_owner(host->rt, bs->isolation, config_wants_gpus(cfg));
	int rc = -1;

	if (bs->resume && enclave_destroy(host->rt, bs->name, err) < 0) {
		log_warn("enclave %s: leftovers of an interrupted attempt: %s", bs->name, err->msg);
		err_clear(err);
	}
	for (size_t i = 0; i < n; i++) {
		const struct config_container *cc = &cfg->containers[i];
		struct boot_pull p = {host, bs, i, n};
		const char *hex;

		if (pull_image(host, bs, cc, boot_on_progress, &p, &imgs[i], err) < 0) {
			rc = err_wrap(err, "pulling image %s", cc->image);
			goto out;
		}
		hex = strchr(imgs[i]->manifest_digest, ':');
		if (owner != 0)
			rootfs[i] = xasprintf("%s/%s-u%u", host->rootfs_dir,
			                      hex != NULL ? hex + 1 : "x", owner);
		else
			rootfs[i] =
			    xasprintf("%s/%s", host->rootfs_dir, hex != NULL ? hex + 1 : "x");
		/* Unpacked images are shared and never written (overlays are). */
		if (access(rootfs[i], F_OK) != 0 &&
		    (owner != 0 ? image_unpack_shifted(host->images, imgs[i], rootfs[i], owner,
		                                       RUNTIME_USERNS_COUNT, err)
		                : image_unpack(host->images, imgs[i], rootfs[i], err)) < 0) {
			if (access(rootfs[i], F_OK) != 0) {
				rc = err_wrap(err, "unpacking image %s", cc->image);
				goto out;
			}
			err_clear(err); /* another job unpacked it meanwhile */
		}
		specs[i].config = cc;
		specs[i].image = &imgs[i]->config;
		specs[i].rootfs = rootfs[i];
		if (prepare_volumes(host, bs, cc, owner, &mounts[i], &specs[i].n_volumes,
		                    &volume_paths, err) < 0) {
			rc = err_wrap(err, "persistent volumes");
			goto out;
		}
		specs[i].volumes = mounts[i];
		/* Its attested keys: only the container granted one sees it. */
		keys[i] = xcalloc(strv_len(cc->keys) + 1, sizeof *keys[i]);
		for (size_t k = 0; k < bs->n_keys; k++)
			if (strv_contains(cc->keys, bs->keys[k].id))
				keys[i][specs[i].n_keys++] = bs->keys[k];
		specs[i].keys = keys[i];
	}
	atomic_store(bs->percent, 100);
	atomic_store(bs->booting, 1);
	spec.name = bs->name;
	spec.deployment_id = NULL;
	spec.containers = specs;
	spec.n_containers = n;
	spec.settings = bs->settings;
	spec.n_settings = bs->n_settings;
	spec.secrets = bs->secrets;
	spec.n_secrets = bs->n_secrets;
	spec.isolation = bs->isolation;
	/* The config's top-level cpus and memory (MiB) bound the whole enclave. */
	spec.memory_bytes = cfg->memory_mib > 0 ? cfg->memory_mib << 20 : 0;
	spec.cpus = cfg->cpus > 0 ? cfg->cpus : 0;
	spec.egress = config_egress(cfg);
	allow = config_egress_allow(cfg);
	spec.allow = allow;
	if (enclave_create(host->rt, &spec, out, err) < 0) {
		rc = err_wrap(err, "booting the enclave");
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++) {
		image_free(imgs[i]);
		free(rootfs[i]);
		free(mounts[i]);
		free(keys[i]);
	}
	free(keys);
	free(imgs);
	free(rootfs);
	free(mounts);
	strv_free(volume_paths);
	strv_free(allow);
	free(specs);
	return rc;
}

static int
local_adopt(struct recon_host *h, const char *name, struct enclave **out,
            enum enclave_observed *observed, struct err *err)
{
	struct runtime *rt = local_of(h)->rt;
	struct enclave *e = NULL;
	int rc;

	rc = enclave_adopt(rt, name, &e, err);
	if (rc == 0)
		rc = enclave_state(rt, e, err);
	if (rc == 0)
		*observed = enclave_observed(e);
	if (rc == 0 && out != NULL)
		*out = take_ptr(&e);
	enclave_free(e);
	return rc;
}

static int
local_attest_listen(struct recon_host *h, const char *name, const char *container, int *fd,
                    struct err *err)
{
	return enclave_attest_listen(local_of(h)->rt, name, container, fd, err);
}

static int
local_destroy(struct recon_host *h, const char *name, struct err *err)
{
	return enclave_destroy(local_of(h)->rt, name, err);
}

/* Drops the oldest kept logs of a container's folder dir beyond
 * MODEL_KEPT_LOGS (by the time they were kept). */
static void
kept_logs_prune(const char *dir)
{
	struct kept {
		char *path;
		time_t when;
	} v[64];
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL && n < ARRAY_LEN(v)) {
		struct stat st;
		char *path;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			v[n].path = path;
			v[n++].when = st.st_mtime;
		} else {
			free(path);
		}
	}
	closedir(d);
	while (n > MODEL_KEPT_LOGS) {
		size_t oldest = 0;
		struct err err = ERR_INIT;

		for (size_t i = 1; i < n; i++)
			if (v[i].when < v[oldest].when)
				oldest = i;
		if (linux_remove_tree(v[oldest].path, &err) < 0)
			log_warn("kept logs: %s", err.msg);
		free(v[oldest].path);
		v[oldest] = v[--n];
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
}

static int
local_keep_logs(struct recon_host *h, const char *name, const char *container_id,
                const char *deployment_id, struct err *err)
{
	struct recon_host_local *l = local_of(h);
	char *dir = model_kept_logs_dir(l->settings.state_dir, container_id, deployment_id);
	char *top = model_kept_logs_dir(l->settings.state_dir, container_id, NULL);
	int rc = enclave_keep_logs(l->rt, name, dir, err);

	if (rc == 0) {
		/* Its time is when it was kept, for the pruning. */
		if (utimensat(AT_FDCWD, dir, NULL, 0) < 0 && errno != ENOENT)
			log_warn("kept logs %s: %s", dir, strerror(errno));
		kept_logs_prune(top);
	}
	free(dir);
	free(top);
	return rc;
}

static int
local_drop_logs(struct recon_host *h, const char *container_id, struct err *err)
{
	char *top = model_kept_logs_dir(local_of(h)->settings.state_dir, container_id, NULL);
	int rc = linux_remove_tree(top, err);

	free(top);
	return rc;
}

static void *
remove_tree_work(void *arg)
{
	char *path = arg;
	struct err err = ERR_INIT;

	if (linux_remove_tree(path, &err) < 0)
		log_warn("removing %s: %s", path, err.msg);
	free(path);
	return NULL;
}

/* Removes path (owned) on a thread of its own: a volume may hold millions of
 * files, and the caller may be the loop. */
static void
remove_tree_detached(char *path)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, remove_tree_work, path) != 0)
		remove_tree_work(path);
	pthread_attr_destroy(&attr);
}

/* The volumes' directory leaves its place at once (renamed to
 * <state>/volumes/.gone-<id>, which a start-up removes if a crash came
 * first); its files go in the background. */
static int
local_drop_volumes(struct recon_host *h, const char *container_id, struct err *err)
{
	struct recon_host_local *host = local_of(h);
	char *dir = volumes_dir(host, container_id);
	char *gone = xasprintf("%s/volumes/.gone-%s", host->settings.state_dir, container_id);
	int rc = 0;

	if (rename(dir, gone) < 0 && errno != ENOENT)
		rc = err_make(err, errno, "rename %s", dir);
	else
		remove_tree_detached(take_ptr(&gone));
	free(gone);
	free(dir);
	return rc;
}

/* Removes what deletes left behind when berthd stopped before their end. */
static void
volumes_sweep(const char *state_dir)
{
	char *top = xasprintf("%s/volumes", state_dir);
	DIR *d = opendir(top);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".gone-", 6) == 0)
			remove_tree_detached(xasprintf("%s/%s", top, de->d_name));
	if (d != NULL)
		closedir(d);
	free(top);
}

static int
local_list(struct recon_host *h, char ***names, struct err *err)
{
	return enclave_list(local_of(h)->rt, names, err);
}

static int
local_exec(struct recon_host *h, const struct enclave *e, const char *container, char *const *argv,
           int64_t timeout_ms, int *exit_code, char **output, struct err *err)
{
	return enclave_exec(local_of(h)->rt, e, container, argv, timeout_ms, exit_code, output,
	                    err);
}

static void
local_check(struct recon_host *h, const struct health_check *c, health_exec_fn exec, void *exec_arg,
            struct health_result *r)
{
	(void)h;
	health_check_run(c, exec, exec_arg, r);
}

static void
local_release(struct recon_host *h, struct enclave *e)
{
	(void)h;
	enclave_free(e);
}

static int
local_gpus(struct recon_host *h)
{
	return runtime_gpus(local_of(h)->rt)->count;
}

static int
local_router_status(struct recon_host *h, int64_t *generation, struct err *err)
{
	char *resp = NULL;
	int status = 0;
	json_t *st;

	if (router_client_request(local_of(h)->settings.router_socket, "GET", "/v1/status", NULL,
	                          &status, &resp, err) < 0)
		return -1;
	if (status != 200) {
		free(resp);
		return err_make(err, 0, "the router answered %d", status);
	}
	st = json_loads(resp, 0, NULL);
	*generation = json_integer_value(json_object_get(st, "generation"));
	router_socks_take(&local_of(h)->socks, st);
	json_decref(st);
	free(resp);
	return 0;
}

static int
local_router_push_table(struct recon_host *h, const json_t *table, struct err *err)
{
	return router_client_push_table(local_of(h)->settings.router_socket, table, err);
}

static int
local_router_set_route(struct recon_host *h, const char *host, const json_t *route, struct err *err)
{
	return router_client_set_route(local_of(h)->settings.router_socket, host, route, err);
}

static int
local_router_delete_route(struct recon_host *h, const char *host, struct err *err)
{
	return router_client_delete_route(local_of(h)->settings.router_socket, host, err);
}

static int
local_router_counters(struct recon_host *h, json_t **out, struct err *err)
{
	return router_client_get_counters(local_of(h)->settings.router_socket, out, err);
}

/* Starts berth-router detached (its own session, reparented to init), so it
 * outlives berthd; its output goes to <state>/router.log. */
/* In the router's process, before exec: its listening sockets at 3, 4. */
static void
place_sockets(const int fds[ROUTER_SOCKS])
{
	int high[ROUTER_SOCKS];

	/* Moved out of the way first: a socket may sit at 3 or 4 already. */
	for (int i = 0; i < ROUTER_SOCKS; i++)
		high[i] = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD_CLOEXEC, 10) : -1;
	for (int i = 0; i < ROUTER_SOCKS; i++)
		if (high[i] >= 0)
			dup2(high[i], 3 + i); /* without close-on-exec: the router's */
}

static int
local_router_spawn(struct recon_host *h, struct err *err)
{
	const struct recon_host_settings *s = &local_of(h)->settings;
	char *bin = s->router_bin != NULL ? xstrdup(s->router_bin) : exe_sibling("berth-router");
	char *logpath = xasprintf("%s/router.log", s->state_dir);
	char *pidpath = xasprintf("%s/router.pid", s->state_dir);
	char *tls_dir = xasprintf("%s/tls", s->state_dir);
	char *host_key = xasprintf("%s/%s", s->state_dir, HOSTKEY_FILE);
	char *listen[ROUTER_SOCKS];
	int fds[ROUTER_SOCKS];
	char **argv = NULL;
	pid_t pid;
	int status, rc = 0;

	router_socks_for_spawn(&local_of(h)->socks, fds, listen);
	argv = strv_push(argv, bin);
	argv = strv_push(argv, "--listen");
	argv = strv_push(argv, listen[ROUTER_SOCK_PLAIN]);
	argv = strv_push(argv, "--admin-socket");
	argv = strv_push(argv, s->router_socket);
	argv = strv_push(argv, "--wait-for-table");
	if (s->tls_addr != NULL) {
		argv = strv_push(argv, "--tls-listen");
		argv = strv_push(argv, listen[ROUTER_SOCK_TLS]);
		argv = strv_push(argv, "--tls-dir");
		argv = strv_push(argv, tls_dir);
	}
	if (access(host_key, F_OK) == 0) {
		argv = strv_push(argv, "--host-key");
		argv = strv_push(argv, host_key);
	}
	for (char *const *f = s->router_flags; f != NULL && *f != NULL; f++) {
		char *flag = xasprintf("--%.*s", (int)strcspn(*f, "="), *f);

		argv = strv_push(argv, flag);
		argv = strv_push(argv, strchr(*f, '=') + 1);
		free(flag);
	}
	log_info("starting %s --listen %s --admin-socket %s%s%s%s", bin, listen[ROUTER_SOCK_PLAIN],
	         s->router_socket, s->tls_addr != NULL ? " --tls-listen " : "",
	         s->tls_addr != NULL ? listen[ROUTER_SOCK_TLS] : "",
	         s->router_flags != NULL ? " and the --router-flag flags" : "");
	pid = fork();
	if (pid < 0) {
		rc = err_make(err, errno, "fork");
		goto out;
	}
	if (pid == 0) {
		char line[32];
		pid_t child;
		int fd;

		setsid();
		child = fork();
		if (child != 0) {
			/* The router's pid, for whoever must stop it. */
			int n = snprintf(line, sizeof line, "%d\n", (int)child);
			fd = open(pidpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (fd >= 0 && child > 0)
				(void)!write(fd, line, (size_t)n);
			_exit(0);
		}
		fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		signal(SIGPIPE, SIG_DFL);
		place_sockets(fds);
		execv(bin, argv);
		_exit(127);
	}
	(void)waitpid(pid, &status, 0);
out:
	strv_free(argv);
	free(bin);
	for (int i = 0; i < ROUTER_SOCKS; i++)
		free(listen[i]);
	free(logpath);
	free(pidpath);
	free(tls_dir);
	free(host_key);
	return rc;
}

static const struct recon_host_ops local_ops = {
    .boot = local_boot,
    .adopt = local_adopt,
    .destroy = local_destroy,
    .keep_logs = local_keep_logs,
    .drop_logs = local_drop_logs,
    .drop_volumes = local_drop_volumes,
    .list = local_list,
    .exec = local_exec,
    .check = local_check,
    .release = local_release,
    .gpus = local_gpus,
    .attest_listen = local_attest_listen,
    .router_status = local_router_status,
    .router_push_table = local_router_push_table,
    .router_set_route = local_router_set_route,
    .router_delete_route = local_router_delete_route,
    .router_counters = local_router_counters,
    .router_spawn = local_router_spawn,
};

int
recon_host_local_new(struct runtime *rt, const struct recon_host_settings *s,
                     const _Atomic int *stopping, struct recon_host **out, struct err *err)
{
	struct recon_host_local *host = xcalloc(1, sizeof *host);
	char *images = xasprintf("%s/images", s->state_dir);
	int gpus = rt != NULL ? runtime_gpus(rt)->count : 0;
	int rc = -1;

	host->base.ops = &local_ops;
	host->rt = rt;
	host->settings = *s;
	host->stopping = stopping;
	router_socks_init(&host->socks, s->router_addr, s->router_port, s->tls_addr, s->tls_port);
	if (image_cache_open(images, &host->images, err) < 0) {
		err_wrap(err, "image cache");
		goto out;
	}
	host->rootfs_dir = xasprintf("%s/rootfs", s->state_dir);
	if (mkdir_p(host->rootfs_dir, 0700, err) < 0)
		goto out;
	host->image_settings.insecure_hosts = s->insecure_registries;
	host->image_settings.connect_s = s->pull_connect_s;
	host->image_settings.idle_s = s->pull_idle_s;
	host->image_settings.timeout_ms = s->pull_timeout_ms;
	host->image_settings.cancel = stopping;
	image_cache_set_unpack_caps(host->images, s->image_max_bytes, s->image_max_entries);
	volumes_sweep(s->state_dir);
	if (rt != NULL)
		log_info("runtime %s, %d GPU%s%s", runtime_oci_name(rt), gpus, gpus == 1 ? "" : "s",
		         runtime_gpus(rt)->simulated ? " (simulated: scheduling only, no devices)"
		                                     : "");
	rc = 0;
out:
	free(images);
	if (rc < 0) {
		recon_host_local_free(&host->base);
		host = NULL;
	}
	*out = host != NULL ? &host->base : NULL;
	return rc;
}

void
recon_host_local_free(struct recon_host *h)
{
	struct recon_host_local *host;

	if (h == NULL)
		return;
	host = local_of(h);
	router_socks_close(&host->socks);
	image_cache_close(host->images);
	free(host->rootfs_dir);
	free(host);
}
