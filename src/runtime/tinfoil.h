/* tinfoil: what berth puts below /run/tinfoil of a container (bundle.h binds
 * keys/<id>/ and attestation/ read-only from <bundle>/tinfoil, on the
 * bundles' tmpfs, never on the state directory's disk):
 *   keys/<id>/private_key.pem  0400, its attested key's private part
 *   keys/<id>/public_key.pem   0444, its public part (keys/<id>/ is 0500)
 *                              each owned by the key's uid:gid as the
 *                              container sees them (shifted by the enclave's
 *                              user namespace base)
 *   attestation/attestation.sock
 *                              with `attestation: true`: a unix socket
 *                              berthd answers on with the enclave's
 *                              attestation document (recon-attest.c)
 * Only the containers granted a key have it; a container with neither keys
 * nor the socket has no tinfoil directory at all. */
#ifndef BERTH_RUNTIME_TINFOIL_H
#define BERTH_RUNTIME_TINFOIL_H

#include <stddef.h>

#include "common/err.h"
#include "runtime/bundle.h"

/* Makes dir (0755) with the keys (their owners shifted by id_base) and, when
 * attestation, a listening socket there whose descriptor (non-blocking,
 * close-on-exec) is *fd; *fd is -1 otherwise. Returns 0, or negative with
 * err (nothing of the socket is left open then). */
int tinfoil_prepare(const char *dir, const struct bundle_key *keys, size_t n_keys, unsigned id_base,
                    int attestation, int *fd, struct err *err);

/* Binds the attestation socket of dir again (after a restart of berthd: the
 * container's bind mount of dir shows the new one) and listens: *fd, as
 * tinfoil_prepare() makes it. Returns 0 or negative with err. */
int tinfoil_listen(const char *dir, int *fd, struct err *err);

#endif
