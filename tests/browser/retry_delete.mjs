// A failed container (its image was missing; it has been pushed since): the
// row says failed and why; Retry deploys it; Delete, once the name is typed,
// removes the row.
import { check, clickRowButton, row, scenario, screenshot, seen, signIn, stillSamePage, waitRow, watchRows } from "./lib.mjs";

scenario("retry_delete", async ({ page }) => {
  await signIn(page);
  const failed = await waitRow(page, "late", /failed/);
  const detail = await row(page, "late").locator("[data-detail]").innerText();
  check("the failed row says why", detail.length > 0, detail);
  await screenshot(page, "dashboard");

  await watchRows(page);
  await clickRowButton(page, "late", "Retry");
  const text = await waitRow(page, "late", /running/, 60000);
  const s = await seen(page, "late");
  check("Retry deployed the container again", s.update.some((x) => /^retry/.test(x)), JSON.stringify(s));
  check("the row ends running", /running/.test(text), `${failed} -> ${text}`);
  check("no failure reason is left on the row", (await row(page, "late").locator("[data-cell=status] [data-detail]").count()) === 0);

  await clickRowButton(page, "late", "Delete");
  const dlg = page.getByRole("dialog", { name: "Delete late" });
  await dlg.waitFor();
  const body = await dlg.innerText();
  check("the delete modal states the consequences", /secret bindings/.test(body) && /cannot be undone/.test(body), body);
  const del = dlg.getByRole("button", { name: "Delete" });
  check("Delete is disabled until the name is typed", await del.isDisabled());
  await dlg.getByLabel("Type late to confirm").fill("lat");
  check("a wrong name keeps it disabled", await del.isDisabled());
  await dlg.getByLabel("Type late to confirm").fill("late");
  await del.click();
  await dlg.waitFor({ state: "hidden" });
  await row(page, "late").waitFor({ state: "detached", timeout: 15000 });
  check("the row disappears", (await row(page, "late").count()) === 0);
  check("without a reload", await stillSamePage(page));
});
