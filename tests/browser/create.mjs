// New container from a Git tag: the row appears as deploying, then running,
// without a reload (the page refreshes by itself), with its URL.
import { apiCall, check, env, row, scenario, seen, signIn, stillSamePage, waitRow, watchRows } from "./lib.mjs";

scenario("create", async ({ page }) => {
  await signIn(page);
  await watchRows(page);
  await page.getByRole("button", { name: "New container" }).click();
  const dlg = page.getByRole("dialog", { name: "New container" });
  await dlg.waitFor();

  // Create without a name: the form says what is missing, nothing is sent.
  await dlg.getByRole("button", { name: "Create" }).click();
  check("an empty name is refused by the form", await dlg.isVisible() &&
    await dlg.getByLabel("Name").evaluate((e) => e.validity.valueMissing));

  await dlg.getByLabel("Name").fill("web");
  await dlg.getByLabel("Git repository").fill(env("REPO"));
  await dlg.getByLabel("Tag", { exact: true }).fill("v1");
  await dlg.getByLabel("Tag", { exact: true }).press("Enter");
  await dlg.waitFor({ state: "hidden" });
  const made = await apiCall("GET", "/containers/web");
  check("Enter in the form creates it: the modal closes once berthd accepted it",
    await dlg.isHidden() && made.status === 200 && made.data.source.tag === "v1", JSON.stringify(made.data));

  await row(page, "web").waitFor();
  const text = await waitRow(page, "web", /running/);
  const s = await seen(page, "web");
  check("the row showed deploying, then running", s.status.includes("deploying") && s.status.at(-1) === "running",
    JSON.stringify(s.status));
  check("running came without a reload", await stillSamePage(page));
  check("the row shows the tag v1", /\bv1\b/.test(text), text);
  const link = row(page, "web").getByRole("link");
  const href = await link.getAttribute("href");
  check("the row links the container's URL", /^http:\/\/web\.default\.containers\.localhost:\d+$/.test(href), href);

  // The same name again: the API's message shows in the modal.
  await page.getByRole("button", { name: "New container" }).click();
  await dlg.getByLabel("Name").fill("web");
  await dlg.getByLabel("Git repository").fill(env("REPO"));
  await dlg.getByLabel("Tag", { exact: true }).fill("v1");
  await dlg.getByRole("button", { name: "Create" }).click();
  const err = dlg.locator("#modal-error");
  await err.filter({ hasText: /\S/ }).waitFor();
  check("a taken name shows berthd's error in the modal", /web/.test(await err.innerText()), await err.innerText());
  await dlg.getByRole("button", { name: "Close" }).click();
  await dlg.waitFor({ state: "hidden" });
  const all = await apiCall("GET", "/containers");
  check("Close closes the modal, and the refused create made nothing", await dlg.isHidden() &&
    all.status === 200 && all.data.filter((c) => c.name === "web").length === 1, JSON.stringify(all.data));
});
