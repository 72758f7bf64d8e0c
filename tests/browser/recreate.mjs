// A GPU container on a host whose GPUs cannot hold two copies: Edit config
// runs a recreate update, and the row shows its two phases, 1. stopping old
// then 2. deploying new, with the container deploying meanwhile.
import { check, clickRowButton, env, screenshot, scenario, seen, signIn, waitRow, watchRows } from "./lib.mjs";

scenario("recreate", async ({ page }) => {
  await signIn(page);
  await waitRow(page, "llm", /running/);
  await watchRows(page);
  await clickRowButton(page, "llm", "Update");
  const dlg = page.getByRole("dialog", { name: "Update llm" });
  check("a container from an uploaded config opens on Edit config",
    (await dlg.getByRole("tab", { name: "Edit config" }).getAttribute("aria-selected")) === "true");
  const cfg = dlg.getByLabel("Config (tinfoil-config.yml)");
  await cfg.waitFor();
  const text = await cfg.inputValue();
  check("the config is the GPU one", /gpus: 8/.test(text), text);
  await cfg.fill(text.replace(env("IMG_HELLO_V1"), env("IMG_HELLO_V2")));
  await dlg.getByRole("button", { name: "Redeploy" }).click();
  await dlg.waitFor({ state: "hidden" });

  await page.locator('tr[data-name="llm"] .phase.now', { hasText: "2. deploying new" }).waitFor({ timeout: 60000 });
  await screenshot(page, "recreate-phase-2");
  const end = await waitRow(page, "llm", /done/, 90000);
  const s = await seen(page, "llm");
  const phases = s.update.join(" | ");
  check("the update is a recreate", /recreate/.test(phases), phases);
  check("the phases showed in order: 1. stopping old, then 2. deploying new",
    JSON.stringify(s.phase) === JSON.stringify(["1. stopping old", "2. deploying new"]), s.phase);
  check("the container was deploying during the update", s.status.includes("deploying"), s.status);
  check("it ends running", /running/.test(end), end);
});
