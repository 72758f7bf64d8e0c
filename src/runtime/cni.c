/* cni: plugin invocation per the CNI spec, without libcni. */
#include "runtime/cni.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/spawn.h"

#define CNI_VERSION    "1.0.0"
#define CNI_TIMEOUT_MS 20000

/* The bridge network; with_ip6 (and a subnet6): an IPv6 address too. */
static json_t *
bridge_conf(const struct cni_net *net, int with_ip6)
{
	json_t *c =
	    json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:{s:s, s:[[{s:s}]], s:s}}",
	              "cniVersion", CNI_VERSION, "name", net->bridge, "type", "bridge", "bridge",
	              net->bridge, "isGateway", 1, "ipMasq", 0, "hairpinMode", 1, "ipam", "type",
	              "host-local", "ranges", "subnet", net->subnet, "dataDir", net->ipam_dir);

	if (with_ip6 && net->subnet6 != NULL)
		json_array_append_new(json_object_get(json_object_get(c, "ipam"), "ranges"),
		                      json_pack("[{s:s}]", "subnet", net->subnet6));
	return c;
}

/* Runs one plugin; on success *out (owned, may be "") is its stdout. */
static int
cni_exec(const struct cni_net *net, const char *command, json_t *conf, const char *id,
         const char *netns, const char *ifname, char **out, struct err *err)
{
	const char *type = json_string_value(json_object_get(conf, "type"));
	char *plugin = xasprintf("%s/%s", net->plugin_dir, type);
	char *stdin_json = json_dumps(conf, JSON_COMPACT);
	char *env[] = {
	    xasprintf("CNI_COMMAND=%s", command),      xasprintf("CNI_CONTAINERID=%s", id),
	    xasprintf("CNI_NETNS=%s", netns),          xasprintf("CNI_IFNAME=%s", ifname),
	    xasprintf("CNI_PATH=%s", net->plugin_dir), NULL};
	char *argv[] = {plugin, NULL};
	struct spawn_opts so = {.argv = argv,
	                        .env_extra = env,
	                        .stdin_data = stdin_json,
	                        .stdin_len = strlen(stdin_json),
	                        .stdout_fd = -1,
	                        .timeout_ms = CNI_TIMEOUT_MS};
	struct spawn_result res;
	int rc;

	if (out != NULL)
		*out = NULL;
	rc = spawn_run(&so, &res, err);
	if (rc < 0) {
		err_wrap(err, "CNI %s %s", type, command);
	} else if (res.status != 0) {
		/* Plugins answer {"code", "msg", "details"} on stdout. */
		json_t *e = json_loads(res.out.data, 0, NULL);
		const char *msg = json_string_value(json_object_get(e, "msg"));
		const char *details = json_string_value(json_object_get(e, "details"));
		char line[301];

		spawn_first_line(res.errout.data, line);
		rc = err_make(err, 0, "CNI %s %s for %s: %s%s%s", type, command, id,
		              msg != NULL ? msg
		              : line[0]   ? line
		                          : "failed",
		              details != NULL && details[0] ? ": " : "", details ? details : "");
		json_decref(e);
	} else if (out != NULL) {
		*out = buf_take(&res.out);
	}
	spawn_result_free(&res);
	for (size_t i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(plugin);
	free(stdin_json);
	return rc;
}

char *
cni_result_address(const char *result, int family)
{
	json_t *r = result != NULL ? json_loads(result, 0, NULL) : NULL, *a;
	char *ip = NULL;
	size_t i;

	json_array_foreach(json_object_get(r, "ips"), i, a)
	{
		const char *addr = json_string_value(json_object_get(a, "address"));

		if (addr != NULL && ip == NULL &&
		    strchr(addr, family == AF_INET6 ? ':' : '.') != NULL)
			ip = xstrndup(addr, strcspn(addr, "/"));
	}
	json_decref(r);
	return ip;
}

int
cni_attach(const struct cni_net *net, const char *id, const char *netns, int default_route,
           char **result, char **ip, char **ip6, struct err *err)
{
	json_t *br = bridge_conf(net, default_route);

	/* A route out for an enclave whose egress is open; the others have
	 * their subnet's alone. */
	if (default_route)
		json_object_set_new(br, "isDefaultGateway", json_true());
	char *out = NULL;
	int rc;

	*result = NULL;
	*ip = NULL;
	*ip6 = NULL;
	rc = cni_exec(net, "ADD", br, id, netns, "eth0", &out, err);
	if (rc == 0 && (*ip = cni_result_address(out, AF_INET)) == NULL) {
		struct err ignored = ERR_INIT;

		cni_exec(net, "DEL", br, id, netns, "eth0", NULL, &ignored);
		rc = err_make(err, 0, "CNI bridge result holds no IPv4 address");
	}
	if (rc == 0 && default_route && net->subnet6 != NULL)
		*ip6 = cni_result_address(out, AF_INET6);
	if (rc == 0)
		*result = take_ptr(&out);
	free(out);
	json_decref(br);
	return rc;
}

static json_t *
with_prev(json_t *conf, const char *prev_result)
{
	json_t *prev = prev_result != NULL ? json_loads(prev_result, 0, NULL) : NULL;

	if (prev != NULL)
		json_object_set_new(conf, "prevResult", prev);
	return conf;
}

int
cni_detach(const struct cni_net *net, const char *id, const char *netns, const char *prev_result,
           struct err *err)
{
	/* host-local releases every address of id, whatever the ranges. */
	json_t *br = with_prev(bridge_conf(net, 1), prev_result);
	/* The bridge plugin releases the address even when netns is gone; lo
	 * (berth's, not a plugin's) disappears with its namespace. */
	int rc = cni_exec(net, "DEL", br, id, netns, "eth0", NULL, err);

	json_decref(br);
	return rc;
}

int
cni_check(const struct cni_net *net, const char *id, const char *netns, const char *prev_result,
          struct err *err)
{
	char *ip6 = cni_result_address(prev_result, AF_INET6);
	json_t *br = with_prev(bridge_conf(net, ip6 != NULL), prev_result);
	int rc;

	free(ip6);
	rc = cni_exec(net, "CHECK", br, id, netns, "eth0", NULL, err);

	json_decref(br);
	return rc;
}
