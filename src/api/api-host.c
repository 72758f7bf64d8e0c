/* GET /api/v1/host: what a verifier needs to know of this host: the public
 * half of the key that signs attestation documents, and its runtimes. */
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "api/api-common.h"
#include "api/api-routes.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "runtime/runtime.h"
#include "secret/hostkey.h"

static void
host_get(struct api_req *r)
{
	struct berthd *d = api_daemon(r);
	char pub[2 * HOSTKEY_PUBLIC + 1], name[HOST_NAME_MAX + 1] = "";
	json_t *runtimes = json_object();

	hostkey_public_hex(d->hostkey, pub);
	if (gethostname(name, sizeof name - 1) < 0)
		name[0] = '\0';
	for (size_t i = 0; config_isolation_levels[i] != NULL; i++) {
		const char *v = runtime_version(d->rt, config_isolation_levels[i]);

		if (v != NULL)
			json_object_set_new(runtimes, config_isolation_levels[i], json_string(v));
	}
	/* Who issues the TLS certificates: a verifier of a local-CA host needs
	 * `berth ca` for --ca. null when TLS is off. */
	json_t *v =
	    json_pack("{s:s, s:s, s:s, s:o, s:s, s:s?}", "host_key", pub, "tee", "none", "hostname",
	              name, "runtimes", runtimes, "isolation", berthd_isolation_default(d),
	              "tls_certs", d->settings.tls_port != 0 ? d->settings.tls_certs : NULL);

	/* A replica: which one this is, and where the leader is. */
	if (berthd_role(d) != NULL) {
		char *leader = berthd_leader_url(d);

		json_object_set_new(v, "role", json_string(berthd_role(d)));
		json_object_set_new(v, "url", json_string(d->settings.replica_url));
		json_object_set_new(v, "leader_url",
		                    leader != NULL ? json_string(leader) : json_null());
		free(leader);
	}
	api_reply_json(r, 200, v);
}

const struct api_route api_routes_host[] = {
    {.method = API_GET, .pattern = "/api/v1/host", .handler = host_get},
    {0},
};
