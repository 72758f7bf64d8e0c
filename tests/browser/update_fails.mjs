// A failing update (v3: an image never healthy, health-timeout 4s): the row
// says the update failed and why, while the container stays running v1. The
// same update again is cancelled from the row.
import { check, clickRowButton, row, scenario, screenshot, seen, signIn, waitRow, watchRows } from "./lib.mjs";

scenario("update_fails", async ({ page }) => {
  await signIn(page);
  await waitRow(page, "steady", /running/);
  await watchRows(page);
  await clickRowButton(page, "steady", "Update");
  const dlg = page.getByRole("dialog", { name: "Update steady" });
  await dlg.getByRole("radio", { name: /^v3/ }).check();
  await dlg.getByRole("button", { name: "Deploy tag" }).click();
  await dlg.waitFor({ state: "hidden" });

  const inflight = await waitRow(page, "steady", /Cancel update/, 10000);
  check("while it runs the row offers Cancel update", /Cancel update/.test(inflight), inflight);
  const text = await waitRow(page, "steady", /never healthy/, 60000);
  const err = await row(page, "steady").locator("[data-update-error]").innerText();
  check("the row says the update failed", (await seen(page, "steady")).badge.at(-1) === "failed", text);
  check("with its reason", /never healthy in 4s/.test(err), err);
  const s = await seen(page, "steady");
  check("the container stayed running throughout", s.status.every((x) => x === "running"), s.status);
  check("still on v1", /\bv1\b/.test(text), text);
  check("Retry is offered", await row(page, "steady").getByRole("button", { name: "Retry" }).isVisible());
  await screenshot(page, "update-failed");

  // The same update again, cancelled while it runs.
  await clickRowButton(page, "steady", "Update");
  await dlg.getByRole("radio", { name: /^v3/ }).check();
  await dlg.getByRole("button", { name: "Deploy tag" }).click();
  await dlg.waitFor({ state: "hidden" });
  await clickRowButton(page, "steady", "Cancel update");
  const cancelled = await waitRow(page, "steady", /cancelled/, 20000);
  check("Cancel update cancels it", /cancelled/.test(cancelled), cancelled);
  check("the container still runs v1", /running/.test(cancelled) && /\bv1\b/.test(cancelled), cancelled);
  check("Update is offered again", await row(page, "steady").getByRole("button", { name: "Update" }).isVisible());
});
