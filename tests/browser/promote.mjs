// A debug container: its row says debug, its Update modal offers Deploy to
// prod, and promoting it ends with a production container.
import { check, clickRowButton, row, scenario, seen, signIn, waitRow, watchRows } from "./lib.mjs";

scenario("promote", async ({ page }) => {
  await signIn(page);
  const before = await waitRow(page, "dbg", /running/);
  check("the row marks the debug container", /debug/.test(before), before);
  await watchRows(page);
  await clickRowButton(page, "dbg", "Update");
  const dlg = page.getByRole("dialog", { name: "Update dbg" });
  const tab = dlg.getByRole("tab", { name: "Deploy to prod" });
  check("the Update modal offers Deploy to prod", await tab.isVisible());
  await tab.click();
  await dlg.getByRole("button", { name: "Deploy to prod" }).click();
  await dlg.waitFor({ state: "hidden" });

  const text = await waitRow(page, "dbg", /done/, 60000);
  const s = await seen(page, "dbg");
  check("a promote update ran", s.update.filter((x) => x !== "—").every((x) => /deploy to prod · blue-green/.test(x)), s.update.join(" | "));
  check("its statuses showed, ending done", s.badge.length >= 2 && s.badge.at(-1) === "done", s.badge);
  check("the row no longer says debug", !/\bdebug\b/.test(await row(page, "dbg").locator("[data-cell=version]").innerText()), text);
  check("the container is running", /running/.test(text), text);
  await clickRowButton(page, "dbg", "Update");
  check("Deploy to prod is no longer offered", (await dlg.getByRole("tab", { name: "Deploy to prod" }).count()) === 0);
  await dlg.getByRole("button", { name: "Close" }).click();
});
