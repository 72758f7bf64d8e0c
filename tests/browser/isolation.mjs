// The isolation level: each row says which level its enclave runs at (the
// deployment's, recorded in its measurement), the detail panel too; a config
// that asks for a level this host does not offer is refused in the New
// container modal with berthd's sentence, and no row appears.
// ISOLATIONS lists the levels berthd's log says the host offers: runc only
// today; once runsc support lands, gvisor too, and the gvisor branch runs.
import { check, env, row, scenario, screenshot, signIn, waitRow } from "./lib.mjs";

scenario("isolation", async ({ page }) => {
  await signIn(page);
  await waitRow(page, "iso", /running/);
  const badge = row(page, "iso").locator("[data-cell=version] [data-isolation]");
  check("the row shows the isolation level runc", (await badge.innerText()).trim() === "runc",
    await badge.innerText());
  check("the badge's title says what isolates it", /namespaces/.test(await badge.getAttribute("title")),
    await badge.getAttribute("title"));

  await row(page, "iso").getByRole("button", { name: "iso", exact: true }).click();
  const detail = page.locator("#detail");
  const dd = detail.locator("dl.facts dt", { hasText: /^Isolation$/ }).locator("xpath=following-sibling::dd[1]");
  await dd.waitFor();
  check("the detail panel names the level", (await dd.innerText()).trim() === "runc", await dd.innerText());
  await screenshot(page, "isolation-detail");
  await detail.getByRole("button", { name: "Close details" }).click();

  const offered = env("ISOLATIONS").split(",");
  await page.getByRole("button", { name: "New container" }).click();
  const dlg = page.getByRole("dialog", { name: "New container" });
  await dlg.waitFor();
  await dlg.getByLabel("Name").fill("gv");
  await dlg.getByLabel("Uploaded config").check();
  await dlg.getByLabel("Config (tinfoil-config.yml)").fill(env("CONFIG_GVISOR"));
  await dlg.getByRole("button", { name: "Create" }).click();
  if (offered.includes("gvisor")) {
    await dlg.waitFor({ state: "hidden" });
    await row(page, "gv").waitFor();
    const b = row(page, "gv").locator("[data-cell=version] [data-isolation]");
    check("a gvisor config's row shows gvisor", (await b.innerText()).trim() === "gvisor", await b.innerText());
  } else {
    const err = dlg.locator("#modal-error");
    await err.filter({ hasText: /\S/ }).waitFor();
    const text = await err.innerText();
    check("gvisor, which this host does not offer, is refused with berthd's sentence",
      /deploy\.isolation: isolation gvisor is not available on this host: it offers runc/.test(text), text);
    await screenshot(page, "isolation-refused");
    await dlg.getByRole("button", { name: "Close" }).click();
    await dlg.waitFor({ state: "hidden" });
    await page.waitForTimeout(500);
    check("no row for the refused container", (await row(page, "gv").count()) === 0);
  }
});
