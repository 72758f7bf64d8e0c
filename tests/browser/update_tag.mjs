// Update -> New tag: the tag list marks the current and the invalid tags;
// picking v2 shows the blue-green steps, and the row ends running v2; the
// detail panel shows the new version's health log.
import { check, clickRowButton, screenshot, row, scenario, seen, signIn, stillSamePage, waitRow, watchRows } from "./lib.mjs";

scenario("update_tag", async ({ page }) => {
  await signIn(page);
  await waitRow(page, "blue", /running/);
  await watchRows(page);
  await clickRowButton(page, "blue", "Update");
  const dlg = page.getByRole("dialog", { name: "Update blue" });
  await dlg.waitFor();
  check("the modal offers New tag and Edit config",
    await dlg.getByRole("tab", { name: "New tag" }).isVisible() && await dlg.getByRole("tab", { name: "Edit config" }).isVisible());
  check("no Deploy to prod for a production container", (await dlg.getByRole("tab", { name: "Deploy to prod" }).count()) === 0);

  const choices = dlg.locator(".tag-choice");
  await choices.first().waitFor();
  const tags = await choices.evaluateAll((els) => els.map((e) => e.dataset.tag));
  check("the tag list shows every tag, newest first", JSON.stringify(tags) === JSON.stringify(["v4-bad", "v3", "v2", "v1"]), tags);
  const bad = dlg.locator('.tag-choice[data-tag="v4-bad"]');
  check("the invalid tag is marked invalid with its error",
    /invalid/.test(await bad.innerText()) && /containers/.test(await bad.innerText()), await bad.innerText());
  check("the invalid tag cannot be chosen", await bad.getByRole("radio").isDisabled());
  check("the current tag is marked current", /current/.test(await dlg.locator('.tag-choice[data-tag="v1"]').innerText()));

  await dlg.getByRole("radio", { name: /^v2/ }).check();
  await screenshot(page, "update-modal-tags");
  await dlg.getByRole("button", { name: "Deploy tag" }).click();
  await dlg.waitFor({ state: "hidden" });

  const text = await waitRow(page, "blue", /done/, 60000);
  const s = await seen(page, "blue");
  check("the update is blue-green", s.update.filter((x) => x !== "—").every((x) => /new tag · blue-green/.test(x)), s.update.join(" | "));
  check("its statuses showed in order, ending done",
    ["pending", "started", "ready", "done"].includes(s.badge[0]) && s.badge.at(-1) === "done" &&
    s.badge.every((b, i) => i === 0 || ["pending", "started", "ready", "done"].indexOf(b) > ["pending", "started", "ready", "done"].indexOf(s.badge[i - 1])),
    s.badge);
  check("the current step was highlighted", s.phase.length > 0 && s.phase.every((p) => ["pending", "started", "ready"].includes(p)), s.phase);
  check("the container stayed running during the update", s.status.every((x) => x === "running"), s.status);
  check("the row ends running v2", /running/.test(text) && /\bv2\b/.test(text), text);
  check("no reload was needed", await stillSamePage(page));

  await row(page, "blue").getByRole("button", { name: "blue", exact: true }).click();
  const log = page.locator("#detail [data-health-log]");
  await log.waitFor();
  const logText = await log.innerText();
  check("the detail panel shows the health log", /\d{4}-\d\d-\d\dT.*\S/.test(logText), logText);
  await screenshot(page, "detail-panel");
  check("the detail panel shows the deployment's config", /hello:v2/.test(await page.locator("#detail").innerText()));
});
