/* config-check: the checks between sections, once each is read: container
 * names unique, the shim's upstream container, containers against the
 * declared models, networks, volumes and attested keys, host ports, GPUs;
 * and the defaults that depend on other sections (the health path).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "config/config-int.h"
#include "config/config.h"

/* The egress of network node v (a mapping or null): closed when unset. */
static const char *
network_egress(const ynode *v)
{
	const ynode *e = v->kind == CONFIG_YAML_MAP ? config_yaml_get(v, "egress") : NULL;

	return e != NULL && e->kind == CONFIG_YAML_SCALAR ? e->text : "closed";
}

/* Whether shim.paths lets path through. */
static int
paths_allow(char *const *paths, const char *path)
{
	for (; paths != NULL && *paths != NULL; paths++)
		if (config_path_allows(*paths, path, strlen(path)))
			return 1;
	return 0;
}

/* The scalar value of key in each mapping of list seq that has it. */
static const ynode *
section_find(const ynode *seq, const char *key, const char *value)
{
	size_t i;

	for (i = 0; seq != NULL && i < seq->n; i++) {
		const ynode *k = config_yaml_get(seq->items[i], key);

		if (k != NULL && k->kind == CONFIG_YAML_SCALAR && strcmp(k->text, value) == 0)
			return seq->items[i];
	}
	return NULL;
}

static int
yaml_true(const ynode *m, const char *key)
{
	const ynode *v = m != NULL ? config_yaml_get(m, key) : NULL;
	int b = 0;

	return v != NULL && cfg_scalar_bool(v, 1, &b) == 0 && b;
}

/* Whether path equals, contains or lies under /run/tinfoil/keys, or is /. */
static int
overlaps_key_dir(const char *path)
{
	static const char dir[] = "/run/tinfoil/keys";
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 1 && path[0] == '/')
		return 1;
	if (n <= sizeof(dir) - 1)
		return strncmp(dir, path, n) == 0 && (dir[n] == '\0' || dir[n] == '/');
	return strncmp(path, dir, sizeof(dir) - 1) == 0 && path[sizeof(dir) - 1] == '/';
}

/* A container's grants of names from a declared list: each declared
 * (declared(name) != NULL), none repeated. */
static void
check_grants(struct pctx *p, const ynode *list, const char *what,
             int (*declared)(struct pctx *p, const char *name))
{
	size_t i, j;

	if (list == NULL || list->kind != CONFIG_YAML_SEQ)
		return;
	for (i = 0; i < list->n; i++) {
		const ynode *it = list->items[i];

		if (it->kind != CONFIG_YAML_SCALAR)
			continue;
		for (j = 0; j < i; j++)
			if (strcmp(list->items[j]->text, it->text) == 0)
				break;
		if (j < i)
			config_error_at(p->errs, it, NULL, "%s \"%s\" is duplicated", what,
			                it->text);
		else if (!declared(p, it->text))
			config_error_at(p->errs, it, NULL, "%s \"%s\" is not declared", what,
			                it->text);
	}
}

static int
model_declared(struct pctx *p, const char *name)
{
	return section_find(p->models, "name", name) != NULL;
}

static int
network_declared(struct pctx *p, const char *name)
{
	return strcmp(name, "shim-net") != 0 && p->networks != NULL &&
	       config_yaml_get(p->networks, name) != NULL;
}

/* Checks of one container against the top-level sections. */
static void
check_container_sections(struct pctx *p, const ynode *m, const struct config_container *ct)
{
	const ynode *nets = config_yaml_get(m, "networks"), *ports = config_yaml_get(m, "ports");
	const ynode *pv = config_yaml_get(m, "persistent_volumes"),
	            *vols = config_yaml_get(m, "volumes");
	const ynode *user = config_yaml_get(m, "user");
	size_t i, open_nets = 0;

	check_grants(p, config_yaml_get(m, "models"), "model", model_declared);
	check_grants(p, nets, "network", network_declared);
	for (i = 0; nets != NULL && nets->kind == CONFIG_YAML_SEQ && i < nets->n; i++) {
		const ynode *n =
		    p->networks != NULL ? config_yaml_get(p->networks, nets->items[i]->text) : NULL;

		if (n != NULL && strcmp(network_egress(n), "closed") != 0 && ++open_nets == 2)
			config_error_at(p->errs, nets->items[i], NULL,
			                "at most one network with egress other than closed");
	}
	/* With networks declared, a container publishes ports through one. */
	if (p->networks != NULL && ports != NULL && ports->kind == CONFIG_YAML_SEQ &&
	    ports->n > 0 && strv_len(ct->networks) == 0)
		config_error_at(p->errs, ports, NULL,
		                "ports requires an attached network (networks)");
	for (i = 0; pv != NULL && pv->kind == CONFIG_YAML_SEQ && i < pv->n; i++) {
		const char *t = pv->items[i]->text, *colon = strchr(t, ':');
		char *name;

		if (pv->items[i]->kind != CONFIG_YAML_SCALAR || colon == NULL)
			continue;
		name = xstrndup(t, (size_t)(colon - t));
		if (section_find(p->volumes, "name", name) == NULL)
			config_error_at(p->errs, pv->items[i], NULL,
			                "\"%s\" must name a volume declared in volumes", name);
		if (strv_len(ct->keys) > 0 && overlaps_key_dir(colon + 1))
			config_error_at(p->errs, pv->items[i], NULL,
			                "%s conflicts with attested keys at /run/tinfoil/keys",
			                colon + 1);
		free(name);
	}
	for (i = 0; vols != NULL && vols->kind == CONFIG_YAML_SEQ && i < vols->n; i++) {
		const char *t = vols->items[i]->text, *colon = strchr(t, ':');
		char *name;

		if (vols->items[i]->kind != CONFIG_YAML_SCALAR || colon == NULL)
			continue;
		name = xstrndup(t, (size_t)(colon - t));
		if (section_find(p->volumes, "name", name) != NULL)
			config_error_at(
			    p->errs, vols->items[i], NULL,
			    "\"%s\" is a declared volume: mount it with persistent_volumes", name);
		if (strv_len(ct->keys) > 0 && overlaps_key_dir(colon + 1))
			config_error_at(p->errs, vols->items[i], NULL,
			                "%s conflicts with attested keys at /run/tinfoil/keys",
			                colon + 1);
		free(name);
	}
	for (i = 0; strv_len(ct->keys) > 0 && i < ct->n_tmpfs; i++)
		if (strcmp(ct->tmpfs[i].path, "/run") != 0 && overlaps_key_dir(ct->tmpfs[i].path))
			config_error_at(
			    p->errs, config_yaml_get(m, "tmpfs"), NULL,
			    "tmpfs %s conflicts with attested keys at /run/tinfoil/keys",
			    ct->tmpfs[i].path);
	if (ct->cvm_admin && ct->user != NULL && strcmp(ct->user, "") != 0 &&
	    strcmp(ct->user, "0") != 0 && strcmp(ct->user, "0:0") != 0 &&
	    strcmp(ct->user, "root") != 0 && strcmp(ct->user, "root:root") != 0)
		config_error_at(
		    p->errs, user, NULL,
		    "cvm_admin requires root user (0, 0:0, root or root:root), got \"%s\"",
		    ct->user);
	if (ct->seal_register && (ct->user == NULL || !isdigit((unsigned char)ct->user[0])))
		config_error_at(p->errs, user != NULL ? user : config_yaml_get(m, "seal_register"),
		                NULL, "seal_register requires a user beginning with a numeric uid");
	/* secrets may not name a model's or a volume's key-secret. */
	for (i = 0; ct->secrets != NULL && ct->secrets[i] != NULL; i++)
		if (section_find(p->models, "key-secret", ct->secrets[i]) != NULL ||
		    section_find(p->volumes, "key-secret", ct->secrets[i]) != NULL)
			config_error_at(p->errs, config_yaml_get(m, "secrets"), NULL,
			                "secret %s is a model's or a volume's key-secret",
			                ct->secrets[i]);
}

/* Whether model entry m must be named and unique: encrypted, or granted. */
static int
model_required(struct pctx *p, const ynode *m)
{
	const ynode *name = config_yaml_get(m, "name"), *emwp = config_yaml_get(m, "emwp");
	size_t i;

	if (emwp != NULL && emwp->kind == CONFIG_YAML_SCALAR)
		return 1;
	for (i = 0; name != NULL && name->kind == CONFIG_YAML_SCALAR && i < p->c->n_containers; i++)
		if (strv_contains(p->c->containers[i].models, name->text))
			return 1;
	return 0;
}

/* Checks between the containers and the top-level sections. */
static void
check_sections(struct pctx *p, const ynode *root)
{
	struct config *c = p->c;
	const ynode *seals = NULL;
	size_t i, j, k, disks = 0;
	int inbound22 = 0;

	for (i = 0; i < c->n_containers; i++) {
		check_container_sections(p, p->cnodes[i], &c->containers[i]);
		if (c->containers[i].seal_register) {
			if (seals != NULL)
				config_error_at(
				    p->errs, config_yaml_get(p->cnodes[i], "seal_register"), NULL,
				    "at most one container may have seal_register");
			seals = p->cnodes[i];
		}
	}
	/* Models: required ones are named and unique, encrypted ones granted. */
	for (i = 0; p->models != NULL && i < p->models->n; i++) {
		const ynode *m = p->models->items[i], *name = config_yaml_get(m, "name");
		int req;

		if (m->kind != CONFIG_YAML_MAP)
			continue;
		req = model_required(p, m);
		if (name == NULL || name->kind != CONFIG_YAML_SCALAR) {
			if (req)
				config_error_at(
				    p->errs, m, "name",
				    "required key is missing (an encrypted model needs a name)");
			continue;
		}
		for (j = 0; j < i; j++) {
			const ynode *o = p->models->items[j], *on = config_yaml_get(o, "name");

			if (on != NULL && on->kind == CONFIG_YAML_SCALAR &&
			    strcmp(on->text, name->text) == 0 && (req || model_required(p, o))) {
				config_error_at(p->errs, name, NULL,
				                "model \"%s\" duplicates the one at line %d",
				                name->text, on->pos.line);
				break;
			}
		}
		if (config_yaml_get(m, "emwp") != NULL &&
		    config_yaml_get(m, "emwp")->kind == CONFIG_YAML_SCALAR) {
			for (k = 0; k < c->n_containers; k++)
				if (strv_contains(c->containers[k].models, name->text))
					break;
			if (k == c->n_containers)
				config_error_at(
				    p->errs, name, NULL,
				    "encrypted model \"%s\" requires an explicit container "
				    "grant (containers[].models)",
				    name->text);
		}
	}
	/* Overlays need exec on their volume and a declared exec model. */
	for (i = 0; p->volumes != NULL && i < p->volumes->n; i++) {
		const ynode *vol = p->volumes->items[i], *ov = config_yaml_get(vol, "overlays");
		int exec_model = 0;

		if (ov == NULL || ov->kind != CONFIG_YAML_SEQ || ov->n == 0)
			continue;
		for (j = 0; p->models != NULL && j < p->models->n; j++)
			exec_model |= yaml_true(p->models->items[j], "exec");
		if (!yaml_true(vol, "exec"))
			config_error_at(p->errs, ov, NULL,
			                "overlays need exec: true on the volume");
		if (!exec_model)
			config_error_at(p->errs, ov, NULL,
			                "overlays need a declared model with exec: true");
	}
	disks = (p->models != NULL ? p->models->n : 0) + (p->volumes != NULL ? p->volumes->n : 0);
	if (disks > MAX_DISKS)
		config_error_at(p->errs, p->volumes != NULL ? p->volumes : p->models, NULL,
		                "models and volumes make %zu disks, more than the limit of %d",
		                disks, MAX_DISKS);
	/* Attested keys: each granted to exactly one container. */
	for (i = 0; p->attested_keys != NULL && i < p->attested_keys->n; i++) {
		const ynode *id = config_yaml_get(p->attested_keys->items[i], "id");
		size_t grants = 0;

		if (id == NULL || id->kind != CONFIG_YAML_SCALAR)
			continue;
		for (k = 0; k < c->n_containers; k++)
			for (j = 0;
			     c->containers[k].keys != NULL && c->containers[k].keys[j] != NULL; j++)
				grants += strcmp(c->containers[k].keys[j], id->text) == 0;
		if (grants == 0)
			config_error_at(p->errs, id, NULL,
			                "attested key \"%s\" needs exactly one container grant "
			                "(containers[].keys)",
			                id->text);
	}
	{
		struct named *seen = NULL;
		size_t n = 0;

		for (k = 0; k < c->n_containers; k++) {
			const ynode *keys = config_yaml_get(p->cnodes[k], "keys");

			for (j = 0; keys != NULL && keys->kind == CONFIG_YAML_SEQ && j < keys->n;
			     j++) {
				const ynode *it = keys->items[j];

				if (section_find(p->attested_keys, "id", it->text) == NULL) {
					config_error_at(p->errs, it, NULL,
					                "unknown attested key \"%s\"", it->text);
					continue;
				}
				for (i = 0; i < n; i++)
					if (strcmp(seen[i].name, it->text) == 0)
						break;
				if (i < n) {
					config_error_at(
					    p->errs, it, NULL,
					    "duplicate or shared grant of attested key \"%s\" "
					    "(first at line %d)",
					    it->text, seen[i].node->pos.line);
					continue;
				}
				seen = xreallocarray(seen, n + 1, sizeof(*seen));
				seen[n].name = it->text;
				seen[n++].node = it;
			}
		}
		free(seen);
	}
	/* Host ports: published once across containers; admin SSH is 22:22. */
	for (i = 0; p->inbound_ports != NULL && i < p->inbound_ports->n; i++)
		inbound22 |= strcmp(p->inbound_ports->items[i]->text, "22") == 0;
	{
		struct named *pub = NULL;
		size_t n = 0;

		for (k = 0; k < c->n_containers; k++) {
			const ynode *ports = config_yaml_get(p->cnodes[k], "ports");

			for (j = 0; c->containers[k].ports != NULL && ports != NULL && j < ports->n;
			     j++) {
				const ynode *it = ports->items[j];
				int host = cfg_port_host(it->text);
				char key[16];

				if (host < 0)
					continue;
				if (host == 22 && inbound22 && c->containers[k].cvm_admin &&
				    strcmp(it->text, "22:22") != 0)
					config_error_at(p->errs, it, NULL,
					                "admin SSH requires 22:22, got \"%s\"",
					                it->text);
				snprintf(key, sizeof key, "%d", host);
				for (i = 0; i < n; i++)
					if (strcmp(pub[i].name, key) == 0)
						break;
				if (i < n) {
					config_error_at(
					    p->errs, it, NULL,
					    "host port %d is already published (at line %d)", host,
					    pub[i].node->pos.line);
					continue;
				}
				pub = xreallocarray(pub, n + 1, sizeof(*pub));
				pub[n].name = xstrdup(key);
				pub[n++].node = it;
			}
		}
		for (i = 0; i < n; i++)
			free((char *)pub[i].name);
		free(pub);
	}
	/* Container GPU ids exist among the enclave's GPUs. */
	for (k = 0; k < c->n_containers; k++) {
		char **ids = c->containers[k].gpu_ids;

		for (j = 0; ids != NULL && ids[j] != NULL; j++)
			if (c->gpus < 0 || atoi(ids[j]) >= c->gpus) {
				config_error_at(p->errs, config_yaml_get(p->cnodes[k], "gpus"),
				                NULL, "GPU %s is not among the %d declared by gpus",
				                ids[j], c->gpus < 0 ? 0 : c->gpus);
				break;
			}
	}
	(void)root;
}

/* Checks between sections, once each is read. */
void
cfg_check_whole(struct pctx *p, const ynode *root)
{
	struct config *c = p->c;
	struct named *names;
	size_t i, n = 0;
	int64_t counted = 0;

	if (!p->seen_containers)
		config_error_at(p->errs, root, "containers", "required key is missing");
	if (!p->seen_shim)
		config_error_at(p->errs, root, "shim", "required key is missing");

	names = xcalloc(c->n_containers + 1, sizeof(*names));
	for (i = 0; i < c->n_containers; i++) {
		if (c->containers[i].name == NULL || p->names[i] == NULL)
			continue;
		names[n].name = c->containers[i].name;
		names[n++].node = p->names[i];
	}
	cfg_check_unique(p, names, n, "container name");
	free(names);
	check_sections(p, root);

	if (c->shim.upstream_container != NULL) {
		if (c->n_containers > 0 &&
		    config_container_find(c, c->shim.upstream_container) == NULL)
			config_error_at(p->errs, p->upstream_container, NULL,
			                "no container is named \"%s\"", c->shim.upstream_container);
	} else if (c->n_containers > 0 && c->containers[0].name != NULL) {
		c->shim.upstream_container = xstrdup(c->containers[0].name);
	}

	/* /health is checked whenever the router would let it through (as
	 * route_path_allowed() matches), not only when listed exactly. */
	if (c->deploy.health_path == NULL && paths_allow(c->shim.paths, "/health"))
		c->deploy.health_path = xstrdup("/health");

	/* The enclave's GPUs: containers may not ask for more than it declares. */
	for (i = 0; i < c->n_containers; i++)
		if (c->containers[i].gpus > 0)
			counted += c->containers[i].gpus;
	if (c->gpus >= 0 && counted > c->gpus)
		config_error_at(p->errs, config_yaml_get(root, "gpus"), NULL,
		                "the containers ask for %lld GPUs, more than the %d declared here",
		                (long long)counted, c->gpus);
	for (i = 0; i < c->n_containers && c->gpus == 0; i++)
		if (c->containers[i].gpus_all)
			config_error_at(p->errs, config_yaml_get(root, "gpus"), NULL,
			                "container %s asks for gpus: all, but gpus is 0",
			                c->containers[i].name ? c->containers[i].name : "");
}
