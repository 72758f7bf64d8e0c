/* The dashboard's files and the health endpoint, outside /api/v1. */
#include <string.h>

#include "api/api-routes.h"
#include "api/web.h"
#include "daemon/daemon.h"
#include "tls/ca.h"

static void
web_serve(struct api_req *r, const char *name)
{
	const struct web_asset *a = web_asset_find(name);

	if (a == NULL) {
		api_reply_error(r, 404, "not_found", "no such file: %s", r->path);
		return;
	}
	api_reply_text(r, 200, a->content_type, (const char *)a->data, a->len);
}

static void
web_index(struct api_req *r)
{
	web_serve(r, "index.html");
}

static void
web_file(struct api_req *r)
{
	web_serve(r, r->captures[0]);
}

static void
web_healthz(struct api_req *r)
{
	api_reply_text(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

/* The local CA's certificate, for `curl --cacert`: public, no token. */
static void
web_ca_pem(struct api_req *r)
{
	struct berthd *d = r->ctx;
	const char *pem = d->ca != NULL ? ca_cert_pem(d->ca) : NULL;

	if (pem == NULL) {
		api_reply_error(r, 404, "not_found",
		                d->acme != NULL
		                    ? "certificates come from an ACME server (berthd --tls-certs "
		                      "acme): there is no local CA"
		                    : "TLS is off (berthd --tls-listen off): there is no local CA");
		return;
	}
	api_reply_text(r, 200, "application/x-pem-file", pem, strlen(pem));
}

const struct api_route api_routes_web[] = {
    {.method = API_GET, .pattern = "/", .handler = web_index, .flags = API_PUBLIC},
    {.method = API_GET, .pattern = "/healthz", .handler = web_healthz, .flags = API_PUBLIC},
    {.method = API_GET, .pattern = "/ca.pem", .handler = web_ca_pem, .flags = API_PUBLIC},
    {.method = API_GET, .pattern = "/{}", .handler = web_file, .flags = API_PUBLIC},
    {0},
};
