/* gpu: NVIDIA device discovery and CDI/device-node edits. */
#include "runtime/gpu.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"

static const char *const default_cdi_dirs[] = {"/etc/cdi", "/var/run/cdi", NULL};
static const char *const control_nodes[] = {"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools",
                                            "nvidia-modeset"};

static int
gpu_index(const char *name)
{
	const char *p = name + 6;

	if (strncmp(name, "nvidia", 6) != 0 || *p == '\0')
		return -1;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return -1;
	return atoi(p);
}

static int
by_index(const void *a, const void *b)
{
	const char *x = strrchr(*(char *const *)a, '/') + 1,
	           *y = strrchr(*(char *const *)b, '/') + 1;

	return gpu_index(x) - gpu_index(y);
}

static char *
find_cdi_spec(const char *const *dirs)
{
	for (; *dirs != NULL; dirs++) {
		DIR *d = opendir(*dirs);
		struct dirent *e;

		if (d == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			char *p;
			json_t *j;
			const char *kind;

			if (strstr(e->d_name, ".json") == NULL)
				continue;
			p = xasprintf("%s/%s", *dirs, e->d_name);
			j = json_load_file(p, 0, NULL);
			kind = json_string_value(json_object_get(j, "kind"));
			if (kind != NULL && strcmp(kind, "nvidia.com/gpu") == 0) {
				json_decref(j);
				closedir(d);
				return p;
			}
			json_decref(j);
			free(p);
		}
		closedir(d);
	}
	return NULL;
}

int
gpu_inventory_scan(const char *dev_dir, int simulated, const char *const *cdi_dirs,
                   struct gpu_inventory *inv, struct err *err)
{
	DIR *d;
	struct dirent *e;

	memset(inv, 0, sizeof *inv);
	inv->dev_dir = xstrdup(dev_dir);
	d = opendir(dev_dir);
	if (d == NULL)
		return err_make(err, errno, "open %s", dev_dir);
	while ((e = readdir(d)) != NULL) {
		if (gpu_index(e->d_name) >= 0) {
			char *p = xasprintf("%s/%s", dev_dir, e->d_name);

			inv->devices = strv_push(inv->devices, p);
			free(p);
		}
	}
	closedir(d);
	inv->count = (int)strv_len(inv->devices);
	if (inv->count > 0) {
		qsort(inv->devices, (size_t)inv->count, sizeof *inv->devices, by_index);
		inv->cdi_spec = find_cdi_spec(cdi_dirs != NULL ? cdi_dirs : default_cdi_dirs);
		log_info("gpu: %d NVIDIA GPU(s) in %s, %s", inv->count, dev_dir,
		         inv->cdi_spec ? inv->cdi_spec : "no CDI spec: passing device nodes");
	} else if (simulated > 0) {
		inv->count = simulated;
		inv->simulated = 1;
		log_warn("gpu: no GPU in %s; SIMULATING %d GPU(s) for scheduling only, "
		         "no device is passed to containers",
		         dev_dir, simulated);
	}
	return 0;
}

void
gpu_inventory_free(struct gpu_inventory *inv)
{
	strv_free(inv->devices);
	free(inv->dev_dir);
	free(inv->cdi_spec);
	memset(inv, 0, sizeof *inv);
}

static int
device_node(json_t *devices, const char *host_path, const char *path, struct err *err)
{
	struct stat st;

	if (stat(host_path, &st) < 0)
		return err_make(err, errno, "gpu device %s", host_path);
	if (!S_ISCHR(st.st_mode))
		return err_make(err, 0, "gpu device %s is not a character device", host_path);
	/* hostPath is berth's own (runtimes ignore it): in a user namespace the
	 * node is bound from there instead of made. */
	json_array_append_new(devices,
	                      json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:s}", "path", path,
	                                "type", "c", "major", (json_int_t)major(st.st_rdev),
	                                "minor", (json_int_t)minor(st.st_rdev), "fileMode", 0666,
	                                "uid", 0, "gid", 0, "hostPath", host_path));
	return 0;
}

/* Applies one CDI containerEdits object to edits. */
static int
cdi_apply(json_t *edits, json_t *ce, struct err *err)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(ce, "deviceNodes"), i, v)
	{
		const char *path = json_string_value(json_object_get(v, "path"));
		const char *host = json_string_value(json_object_get(v, "hostPath"));

		if (path == NULL)
			return err_make(err, 0, "CDI deviceNodes: an entry without path");
		if (device_node(json_object_get(edits, "devices"), host ? host : path, path, err) <
		    0)
			return err_wrap(err, "CDI deviceNodes");
	}
	json_array_foreach(json_object_get(ce, "env"), i, v)
	    json_array_append(json_object_get(edits, "env"), v);
	json_array_foreach(json_object_get(ce, "mounts"), i, v)
	{
		json_t *opts = json_object_get(v, "options");

		if (!json_is_string(json_object_get(v, "containerPath")) ||
		    !json_is_string(json_object_get(v, "hostPath")))
			return err_make(err, 0,
			                "CDI mounts: an entry without hostPath or containerPath");
		json_array_append_new(
		    json_object_get(edits, "mounts"),
		    json_pack("{s:O, s:s, s:O, s:o}", "destination",
		              json_object_get(v, "containerPath"), "type", "bind", "source",
		              json_object_get(v, "hostPath"), "options",
		              opts ? json_incref(opts) : json_pack("[s, s]", "rbind", "ro")));
	}
	return 0;
}

int
gpu_edits(const struct gpu_inventory *inv, const int *indices, size_t n, json_t **edits,
          struct err *err)
{
	json_t *e;
	struct buf visible = BUF_INIT;
	int rc = 0;

	*edits = NULL;
	if (n == 0 || inv->simulated)
		return 0;
	e = json_pack("{s:[], s:[], s:[]}", "devices", "mounts", "env");
	for (size_t i = 0; i < n; i++) {
		if (indices[i] < 0 || indices[i] >= inv->count) {
			rc = err_make(err, 0, "gpu %d does not exist (host has %d)", indices[i],
			              inv->count);
			goto out;
		}
		buf_printf(&visible, "%s%d", i ? "," : "", indices[i]);
	}
	if (inv->cdi_spec != NULL) {
		json_error_t je;
		json_t *spec = json_load_file(inv->cdi_spec, 0, &je), *d;
		size_t k;

		if (spec == NULL) {
			rc = err_make(err, 0, "CDI spec %s: %s", inv->cdi_spec, je.text);
			goto out;
		}
		rc = cdi_apply(e, json_object_get(spec, "containerEdits"), err);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			char name[16];
			int found = 0;

			snprintf(name, sizeof name, "%d", indices[i]);
			json_array_foreach(json_object_get(spec, "devices"), k, d)
			{
				const char *dn = json_string_value(json_object_get(d, "name"));

				if (dn != NULL && strcmp(dn, name) == 0 && rc == 0) {
					found = 1;
					rc =
					    cdi_apply(e, json_object_get(d, "containerEdits"), err);
				}
			}
			if (!found && rc == 0)
				rc = err_make(err, 0, "CDI spec %s has no device \"%s\"",
				              inv->cdi_spec, name);
		}
		json_decref(spec);
	} else {
		for (size_t i = 0; rc == 0 && i < n; i++) {
			const char *host = inv->devices[indices[i]];
			char *path = xasprintf("/dev/%s", strrchr(host, '/') + 1);

			rc = device_node(json_object_get(e, "devices"), host, path, err);
			free(path);
		}
		for (size_t i = 0; rc == 0 && i < ARRAY_LEN(control_nodes); i++) {
			char *host = xasprintf("%s/%s", inv->dev_dir, control_nodes[i]);
			char *path = xasprintf("/dev/%s", control_nodes[i]);
			struct stat st;

			if (stat(host, &st) == 0)
				rc = device_node(json_object_get(e, "devices"), host, path, err);
			free(host);
			free(path);
		}
	}
	if (rc == 0) {
		char *v = xasprintf("NVIDIA_VISIBLE_DEVICES=%s", visible.data);

		json_array_append_new(json_object_get(e, "env"), json_string(v));
		free(v);
	}
out:
	buf_free(&visible);
	if (rc < 0)
		json_decref(e);
	else
		*edits = e;
	return rc;
}
