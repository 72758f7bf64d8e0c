// The verification panel: in a container's detail panel, what a client can
// check of what serves it (the measurement, the tag and commit, the TLS
// certificate's issuer, not-after and key, the attestation's status, the host
// key) shows exactly what the API says, and the `berth verify` command to run
// is printed for the test to run for real (COMMAND line).
import { apiCall, check, row, scenario, screenshot, signIn, waitRow } from "./lib.mjs";

scenario("verify", async ({ page }) => {
  await signIn(page);
  await waitRow(page, "ver", /running/);
  const c = (await apiCall("GET", "/containers/ver")).data;
  const host = (await apiCall("GET", "/host")).data;
  check("the API has a certificate for the container", c.certificate && c.certificate.public_key_sha256.length === 64,
    JSON.stringify(c.certificate));

  await row(page, "ver").getByRole("button", { name: "ver", exact: true }).click();
  const panel = page.getByRole("region", { name: "Verify" });
  await panel.waitFor();
  const fig = async (key) => (await panel.locator(`[data-verify=${key}]`).innerText()).trim();
  const d = c.deployment;
  check("the measurement is the deployment's", (await fig("measurement")) === d.measurement, await fig("measurement"));
  check("the source is the repository at the deployment's tag",
    (await fig("source")) === `${c.source.repo} @ ${d.tag}`, await fig("source"));
  check("the commit is the deployment's", d.commit && (await fig("commit")) === d.commit, await fig("commit"));
  check("the TLS URL is the container's", (await fig("tls_url")) === c.tls_url, await fig("tls_url"));
  check("the certificate's issuer", (await fig("issuer")) === c.certificate.issuer, await fig("issuer"));
  check("the certificate's not-after", (await fig("not_after")) === c.certificate.not_after, await fig("not_after"));
  check("the TLS key's sha256", (await fig("tls_key")) === c.certificate.public_key_sha256, await fig("tls_key"));
  check("the host key is GET /host's", (await fig("host_key")) === host.host_key, await fig("host_key"));
  check("the TEE is none", (await fig("tee")) === host.tee && host.tee === "none", await fig("tee"));
  const att = await fig("attestation");
  check("the attestation is served, signed by the host key", /^served\b/.test(att) && /host key/.test(att), att);
  const cmd = await fig("command");
  check("the command names the URL, tag, CA and host key",
    cmd.startsWith(`berth verify ${c.tls_url} --repo `) && cmd.includes(` --tag ${d.tag}`) &&
    cmd.includes(" --ca berth-ca.pem") && cmd.endsWith(` --host-key ${host.host_key}`), cmd);
  check("the panel says how to get berth's CA", /berth ca > berth-ca\.pem/.test(await panel.innerText()));
  console.log(`COMMAND\t${cmd}`);
  await screenshot(page, "verify-panel");

  // A figure that changes in the API shows without a reload: after the
  // update to v2 the panel shows v2's measurement and commit.
  await apiCall("POST", "/containers/ver/updates", { kind: "tag", tag: "v2" });
  const deadline = Date.now() + 90000;
  let now = (await apiCall("GET", "/containers/ver")).data;
  while (Date.now() < deadline && !(now.deployment.tag === "v2" && now.update && now.update.finished_at)) {
    await page.waitForTimeout(300);
    now = (await apiCall("GET", "/containers/ver")).data;
  }
  check("the update to v2 ended", now.deployment.tag === "v2", JSON.stringify(now.update));
  await page.waitForFunction((m) => {
    const el = document.querySelector("#verify [data-verify=measurement]");
    return el && el.textContent.trim() === m;
  }, now.deployment.measurement, { timeout: 20000 });
  check("the panel follows to v2's measurement", (await fig("measurement")) === now.deployment.measurement);
  check("and its tag in the command", (await fig("command")).includes(" --tag v2 "), await fig("command"));
});
