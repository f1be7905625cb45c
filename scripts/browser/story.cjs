// The browser story: Debian's headless Chromium, driven by playwright-core, goes through the
// pages of a running natlis (NATLIS_URL, with the demo dataset) as a person would — keystrokes
// and Enter as a scanner sends them — and saves a screenshot of every screen it meets under
// NATLIS_SHOTS. Any step that does not see what a person would see fails the run.
"use strict";
const path = require("path");
const fs = require("fs");
const { chromium } = require(path.resolve(__dirname, "../../target/browser/node_modules/playwright-core"));

const base = process.env.NATLIS_URL || "http://127.0.0.1:18080";
const shots = process.env.NATLIS_SHOTS || path.resolve(__dirname, "../../target/browser/screens");
const password = process.env.NATLIS_DEMO_PASSWORD || "natlis-demo";
fs.mkdirSync(shots, { recursive: true });

let n = 0;
async function shot(page, name) {
  n += 1;
  const file = path.join(shots, `${String(n).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`browser: screenshot ${file}`);
}

function check(ok, what) {
  if (!ok) { throw new Error(`browser story: ${what}`); }
  console.log(`browser: ok — ${what}`);
}

// A keyboard-wedge scanner: the code's characters, quickly, then Enter.
async function scan(page, code) {
  await page.keyboard.type(code, { delay: 5 });
  await answered(page, "/collect/scan", () => page.keyboard.press("Enter"));
}

// Does `act` and waits for the answer from `path` to be on the screen.
async function answered(page, path, act) {
  const response = page.waitForResponse((r) => r.url().endsWith(path));
  await act();
  await response;
  await page.waitForTimeout(150);
}

// Valid resident ID numbers (GB 11643 check character), distinct per n.
function idNumber(n) {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const checks = "10X98765432";
  const first17 = `110108198${String(n % 10)}0101${String(n % 1000).padStart(3, "0")}`;
  let sum = 0;
  for (let i = 0; i < 17; i++) { sum += Number(first17[i]) * weights[i]; }
  return first17 + checks[sum % 11];
}

async function login(page, username) {
  await page.goto(`${base}/login`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const stamp = Date.now().toString().slice(-6);
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
    const page = await context.newPage();
    page.on("pageerror", (e) => { throw new Error(`a script error on the page: ${e}`); });

    // Nobody signed in: the login page, in Chinese; a wrong password says so.
    await page.goto(`${base}/collect`);
    check(page.url().includes("/login?next="), "a screen sends nobody to the login page");
    await shot(page, "login");
    await page.fill("#username", "collector-zgc");
    await page.fill("#password", "not the password");
    await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
    check((await page.textContent("#login-failure")).includes("用户名或密码错误"), "a wrong password is refused in Chinese");
    await shot(page, "login-refused");

    // The collector logs in and lands on the collection screen, the box focused.
    await page.fill("#username", "collector-zgc");
    await page.fill("#password", password);
    await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
    check(page.url().endsWith("/collect"), "after login, back to the screen asked for");
    check(await page.evaluate(() => document.activeElement.id) === "scan-code", "the scan box has the focus");
    check((await page.textContent("#who")).trim() === "collector-zgc", "the header says who is signed in");
    await shot(page, "collect-empty");

    // A pool of 10: the tube's barcode, then people by ID card (new people give name and phone).
    await page.selectOption("#sampling", "10");
    const tube = `ZGC9${stamp}`;
    await scan(page, tube);
    check((await page.textContent("#tube-barcode")).trim() === tube, "a scanned barcode opens the tube");
    check((await page.textContent("#fill")).includes("0/10"), "the fill counter starts at 0/10");
    check(await page.evaluate(() => document.activeElement.id) === "scan-code", "the focus is back in the box");
    for (let i = 1; i <= 3; i++) {
      await scan(page, idNumber(i + Number(stamp) % 500));
      if (await page.$("#new-person-form")) {
        check(await page.evaluate(() => document.activeElement.id) === "new-name", "a new person's name field takes the focus");
        if (i === 1) { await shot(page, "collect-new-person"); }
        await page.keyboard.type(`测试${i}`);
        await page.fill("#new-phone", `1390000${String(i).padStart(4, "0")}`);
        await answered(page, "/collect/scan", () => page.keyboard.press("Enter"));
      }
      check((await page.textContent("#fill")).includes(`${i}/10`), `person ${i} is in the tube`);
    }
    await shot(page, "collect-pool-3-of-10");

    // The same person again: refused, in red, the panel unchanged, the focus in the box.
    await scan(page, idNumber(3 + Number(stamp) % 500));
    const refused = await page.getAttribute("#message", "class");
    check(refused.includes("refused"), "a duplicate scan is refused");
    check((await page.textContent("#message")).includes("此人已在本管中"), "the refusal names the problem");
    check((await page.textContent("#fill")).includes("3/10"), "a refusal leaves the tube as it was");
    check(await page.evaluate(() => document.activeElement.id) === "scan-code", "after a refusal the focus is back in the box");
    await shot(page, "collect-refused-duplicate");

    // Close short with the count; the label is there to print.
    await answered(page, "/collect/close", () => page.click("#close-short"));
    check((await page.textContent("#message")).includes("不足 10 人"), "a short pool is closed and flagged");
    check(await page.getAttribute("#current", "value") === "", "after closing, the next scan opens a new tube");
    await shot(page, "collect-closed-short");
    const label = await context.request.get(`${base}/api/v1/tubes/${tube}/label.svg`);
    check(label.status() === 200 && (await label.text()).includes("<svg"), "the tube's label prints as SVG");

    // In English, on a phone-sized screen.
    await page.goto(`${base}/lang/en?back=/collect`);
    await page.setViewportSize({ width: 390, height: 844 });
    check((await page.textContent("h1")).includes("Collection"), "the language switch gives English");
    await shot(page, "collect-phone-en");

    // A technician is not a collector: a page that says so and what to do.
    const tech = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
    const tp = await tech.newPage();
    await login(tp, "tech-hd");
    const resp = await tp.goto(`${base}/collect`);
    check(resp.status() === 403, "a technician opening the collection screen gets 403");
    await shot(tp, "forbidden");
    await tp.goto(`${base}/no/such/page`);
    await shot(tp, "not-found");

    // Logging out ends the session.
    await page.click("#logout");
    await page.waitForURL(/\/login/);
    check(page.url().includes("/login"), "logging out goes to the login page");
  } finally {
    await browser.close();
  }
  console.log(`browser: the story passed; ${n} screenshots in ${shots}`);
})().catch((e) => { console.error(e); process.exit(1); });
