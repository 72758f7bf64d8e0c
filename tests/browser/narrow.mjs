// A phone-sized screen (390 px wide): the container list fits, nothing
// scrolls sideways, every row's actions are in reach; the desktop layout is
// still a table.
import { check, row, scenario, screenshot, signIn, waitRow } from "./lib.mjs";

async function sideways(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

// What sticks out, for the failure message.
async function wide(page) {
  return page.evaluate(() => [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 6).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}` +
      `:${Math.round(e.getBoundingClientRect().right)}`).join(" "));
}

scenario("narrow", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page);
  const name = "a-container-with-a-rather-long-name-x";
  await waitRow(page, name, /running/);
  await waitRow(page, "broken", /failed/);
  check("the list does not scroll sideways at 390 px", (await sideways(page)) <= 0,
    `${await sideways(page)} px too wide: ${await wide(page)}`);
  await screenshot(page, "narrow-list");
  for (const n of [name, "broken"]) {
    for (const b of await row(page, n).getByRole("button").all()) {
      const box = await b.boundingBox();
      check(`a button of ${n} is within the screen`, box && box.x >= 0 && box.x + box.width <= 390,
        JSON.stringify(box));
    }
  }
  await row(page, "broken").getByRole("button").first().click();
  await page.waitForTimeout(300);
  await screenshot(page, "narrow-detail");
  check("a container's detail does not scroll sideways either", (await sideways(page)) <= 0,
    `${await sideways(page)} px too wide: ${await wide(page)}`);
  await page.setViewportSize({ width: 1280, height: 860 });
  check("at 1280 px the list has its column heads",
    await page.locator("#containers thead").isVisible());
});
