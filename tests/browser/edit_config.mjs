// Update -> Edit config: the modal holds the current config and environment
// settings; a changed value redeploys, and the row ends running again.
import { apiCall, check, screenshot, clickRowButton, routerGet, scenario, seen, signIn, waitRow, watchRows } from "./lib.mjs";

scenario("edit_config", async ({ page }) => {
  await signIn(page);
  await waitRow(page, "envy", /running/);
  const before = (await apiCall("GET", "/containers/envy")).data;
  await watchRows(page);
  await clickRowButton(page, "envy", "Update");
  const dlg = page.getByRole("dialog", { name: "Update envy" });
  await dlg.getByRole("tab", { name: "Edit config" }).click();
  const cfg = dlg.getByLabel("Config (tinfoil-config.yml)");
  await cfg.waitFor();
  check("the config is pre-populated with the current one", (await cfg.inputValue()) === before.deployment.config);
  const env = dlg.getByLabel("Environment settings");
  check("the environment settings are pre-populated", (await env.inputValue()) === "REGION=eu", await env.inputValue());

  await screenshot(page, "edit-config-modal");
  await cfg.fill(before.deployment.config.replace('LOG_LEVEL: "info"', 'LOG_LEVEL: "debug"'));
  await env.fill("REGION=us");
  await dlg.getByRole("button", { name: "Redeploy" }).click();
  await dlg.waitFor({ state: "hidden" });

  const text = await waitRow(page, "envy", /done/, 60000);
  const s = await seen(page, "envy");
  check("an edit-config update ran", s.update.filter((x) => x !== "—").every((x) => /edit config · blue-green/.test(x)), s.update.join(" | "));
  check("its statuses showed, ending done", s.badge.length >= 2 && s.badge.at(-1) === "done", s.badge);
  check("the row ends running", /running/.test(text), text);
  const res = await routerGet("envy", "/cgi-bin/env");
  check("the new version has the changed values", /LOG_LEVEL=debug/.test(res.body) && /REGION=us/.test(res.body), res.body);
});
