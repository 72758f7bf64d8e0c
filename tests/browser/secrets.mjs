// Secrets: set two, see them listed; one bound to a container shows it in
// "Bound to" and cannot be deleted (berthd's reason shows); the other can.
import { apiCall, check, env, screenshot, scenario, signIn } from "./lib.mjs";

scenario("secrets", async ({ page }) => {
  await signIn(page);
  await page.getByRole("button", { name: "Secrets" }).click();
  const view = page.locator("#view-secrets");
  await view.waitFor();
  for (const [name, value] of [["API_KEY", "s3cret-value"], ["UNUSED", "other"]]) {
    await view.getByLabel("Name").fill(name);
    await view.getByLabel("Value").fill(value);
    await view.getByRole("button", { name: "Set secret" }).click();
    await view.locator(`#secrets tr[data-name="${name}"]`).waitFor();
  }
  check("both secrets are listed", (await view.locator("#secrets tbody tr").count()) === 2);
  check("no value is ever shown", !/s3cret-value/.test(await page.content()));
  check("the value field is cleared", (await view.getByLabel("Value").inputValue()) === "");

  // Behind the page: a container that binds API_KEY.
  const cfg = `cvm-version: 0.7.5\ncontainers:\n  - name: "app"\n    image: "${env("IMG_HELLO_V1")}"\n` +
    `    secrets:\n      - API_KEY\nshim:\n  upstream-port: 8080\n  paths:\n    - "/*"\n`;
  const made = await apiCall("POST", "/containers", { name: "sec", config: cfg });
  check("a container binding API_KEY was created", made.status === 202, JSON.stringify(made.data));
  const bound = view.locator('#secrets tr[data-name="API_KEY"] [data-cell=bound]');
  await bound.filter({ hasText: "sec" }).waitFor({ timeout: 30000 });
  check("Bound to names the container", (await bound.innerText()).trim() === "sec");

  await view.locator('#secrets tr[data-name="API_KEY"]').getByRole("button", { name: "Delete" }).click();
  const err = page.locator("#secret-error");
  await err.waitFor();
  check("deleting a bound secret shows berthd's refusal", /API_KEY/.test(await err.innerText()) && /sec/.test(await err.innerText()),
    await err.innerText());
  check("the bound secret is still listed", (await view.locator('#secrets tr[data-name="API_KEY"]').count()) === 1);

  await screenshot(page, "secrets");
  await view.locator('#secrets tr[data-name="UNUSED"]').getByRole("button", { name: "Delete" }).click();
  await view.locator('#secrets tr[data-name="UNUSED"]').waitFor({ state: "detached" });
  const left = await apiCall("GET", "/secrets");
  check("an unbound secret is deleted: gone from the page and from berthd",
    (await view.locator("#secrets tbody tr").count()) === 1 && left.status === 200 &&
    JSON.stringify(left.data.map((s) => s.name)) === '["API_KEY"]', JSON.stringify(left.data));
  await apiCall("DELETE", "/containers/sec");
});
