"""Private registries: a container's `registry: {username, password_secret}`
pulls its image from a real docker-registry with htpasswd basic auth, the
password the value of an org secret bound to the deployment. The password
shows nowhere: not in the state directory, berthd's log, an API answer, an
event or a process's command line."""
import os
import uuid

import pytest

from lifecycle_helpers import Registry, config_text
from test_lifecycle_secrets import files_holding

USER = "puller"


@pytest.fixture(scope="module")
def private():
    password = "pw-" + uuid.uuid4().hex
    reg = Registry(creds=(USER, password))
    reg.build("hello", env={"HELLO_VERSION": "v1"})
    reg.password = password
    yield reg
    reg.stop()


def private_config(image, secret, user=USER):
    return config_text(image, extra=["registry:", f"  username: {user}",
                                     f"  password_secret: {secret}"])


def cmdlines():
    out = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                out.append(f.read())
        except OSError:
            pass
    return b"\n".join(out)


def test_a_private_image_is_pulled_with_the_secret_password(berthd, private):
    image = private.images["hello:v1"]
    pw = private.password
    answers = []

    def call(method, path, body=None):
        status, got = berthd.call(method, path, body)
        answers.append(repr(got))
        return status, got

    # Anonymous: the registry's 401, said as such.
    status, c = call("POST", "/containers", {"name": "anon", "config": config_text(image)})
    assert status == 202, c
    c = berthd.wait_status("anon", "failed", timeout=60)
    assert "asks for credentials (401)" in c["status_detail"], c["status_detail"]
    # The password's secret must exist before the deploy: 422 naming it.
    status, body = call("POST", "/containers",
                        {"name": "early", "config": private_config(image, "REG_PASSWORD")})
    assert status == 422, body
    assert "registry.password_secret: REG_PASSWORD is not a secret" in body["error"]["message"]
    assert call("GET", "/containers/early")[0] == 404
    # Wrong credentials: refused, with the registry's 401.
    assert call("PUT", "/secrets/REG_WRONG", {"value": "not-" + pw})[0] == 200
    status, c = call("POST", "/containers",
                     {"name": "wrong", "config": private_config(image, "REG_WRONG")})
    assert status == 202, c
    c = berthd.wait_status("wrong", "failed", timeout=60)
    assert f"refused the credentials of {USER} (401)" in c["status_detail"], c["status_detail"]
    # The right password: pulled, and it serves.
    assert call("PUT", "/secrets/REG_PASSWORD", {"value": pw})[0] == 200
    status, c = call("POST", "/containers",
                     {"name": "private", "config": private_config(image, "REG_PASSWORD")})
    assert status == 202, c
    berthd.wait_status("private", "running")
    assert berthd.get("private")[1] == b"hello v1\n"
    assert pw.encode() not in cmdlines()
    # The image is in berthd's cache now; a deploy without the credentials
    # still asks the registry, which refuses it.
    status, c = call("POST", "/containers", {"name": "thief", "config": config_text(image)})
    assert status == 202, c
    c = berthd.wait_status("thief", "failed", timeout=60)
    assert "asks for credentials (401)" in c["status_detail"], c["status_detail"]
    # The secret is bound to the deployment (it cannot go while it runs),
    # and given to no container's environment.
    status, secrets = call("GET", "/secrets")
    bound = {s["name"]: s["bound_to"] for s in secrets}
    assert bound["REG_PASSWORD"] == ["private"], secrets
    for name in ("anon", "wrong", "private", "thief"):
        call("GET", f"/containers/{name}")
        call("GET", f"/containers/{name}/events")
        call("GET", f"/containers/{name}/logs")
    call("GET", "/containers")
    call("GET", "/secrets/REG_PASSWORD")
    assert not [a for a in answers if pw in a]
    assert pw not in berthd.read_log()
    assert files_holding(berthd.state, pw.encode(), everything=True) == []
