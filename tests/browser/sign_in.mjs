// Sign in: a wrong token shows an error and stays on the form; the admin
// token opens the containers view; signing out goes back to the form.
import { baseUrl, check, scenario, signIn, TOKEN } from "./lib.mjs";

scenario("sign_in", async ({ page }) => {
  await page.goto(baseUrl() + "/");
  const form = page.getByRole("heading", { name: "Sign in" });
  check("the sign-in form shows first", await form.isVisible());
  check("no view tabs before signing in", !(await page.getByRole("button", { name: "Secrets" }).isVisible()));

  await page.getByLabel("API token").fill("berth_wrong-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  const err = page.locator("#login-error");
  await err.filter({ hasText: /refused/ }).waitFor();
  check("a wrong token shows an error", /refused/.test(await err.innerText()), await err.innerText());
  check("the wrong token does not sign in", !(await page.locator("#view-containers").isVisible()));

  await signIn(page, TOKEN());
  check("the admin token opens the containers view",
    await page.getByRole("heading", { name: "Containers" }).isVisible());
  check("the error is gone", (await err.innerText()) === "");

  await page.reload();
  await page.locator("#view-containers").waitFor();
  check("a reload keeps the session", await page.getByRole("button", { name: "New container" }).isVisible());

  await page.getByRole("button", { name: "Sign out" }).click();
  await form.waitFor();
  check("sign out returns to the form", await page.getByLabel("API token").isVisible());
});
