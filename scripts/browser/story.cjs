// The browser story: Debian's headless Chromium, driven by playwright-core, goes through the
// pages of a running natlis (NATLIS_URL, with the demo dataset) as a person would — keystrokes
// and Enter as a scanner sends them — and saves a screenshot of every screen it meets under
// NATLIS_SHOTS. Any step that does not see what a person would see fails the run.
"use strict";
const path = require("path");
const fs = require("fs");
const { execFileSync } = require("child_process");
const { chromium } = require(path.resolve(__dirname, "../../target/browser/node_modules/playwright-core"));
const axeSource = fs.readFileSync(path.resolve(__dirname, "../../target/browser/node_modules/axe-core/axe.min.js"), "utf8");

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

// Labels, names and structure a keyboard or screen-reader user depends on (axe-core), on the
// screen as it stands; any violation fails the run, named with the elements.
const axeRules = ["label", "button-name", "select-name", "link-name", "image-alt", "input-button-name",
  "duplicate-id-aria", "aria-allowed-attr", "aria-required-attr", "aria-valid-attr", "aria-valid-attr-value",
  "document-title", "html-has-lang", "html-lang-valid", "list", "listitem", "th-has-data-cells",
  "tabindex", "nested-interactive", "frame-title"];
async function accessible(page, what) {
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) {
    await page.addScriptTag({ content: axeSource });
  }
  const found = await page.evaluate(async (rules) => {
    const r = await window.axe.run(document, { runOnly: { type: "rule", values: rules } });
    return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  }, axeRules);
  check(found.length === 0, `${what}: labels and names are there for every control${found.length ? " — " + found.join("; ") : ""}`);
}

function check(ok, what) {
  if (!ok) { throw new Error(`browser story: ${what}`); }
  console.log(`browser: ok — ${what}`);
}

// A keyboard-wedge scanner: the code's characters, quickly, then Enter (answered at `at`).
async function scan(page, code, at = "/collect/scan") {
  await page.keyboard.type(code, { delay: 5 });
  await answered(page, at, () => page.keyboard.press("Enter"));
}

// Keyboard only: Tab through the page until `id` has the focus (fails if it never does).
async function tabTo(page, id, most = 120) {
  for (let i = 0; i < most; i++) {
    if (await focused(page) === id) { return; }
    await page.keyboard.press("Tab");
  }
  check(false, `#${id} is reached with the Tab key`);
}

async function focused(page) {
  return page.evaluate(() => document.activeElement && document.activeElement.id);
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

// Does `act` and waits for an answer whose address contains `part`.
async function answeredLike(page, part, act) {
  const response = page.waitForResponse((r) => r.url().includes(part));
  await act();
  await response;
  await page.waitForTimeout(150);
}

// The hospital's staff office: a roster with rows to fix is refused row by row, fixed and
// applied; the overdue and never tested are ordered to Zhongguancun today, the sheet of their
// QR codes printed. Returns the personal codes of the first five on the list.
async function theInstitutionOrders(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const hp = await ctx.newPage();
  hp.on("pageerror", (e) => { throw new Error(`a script error on the page: ${e}`); });
  await login(hp, "hr-bjh");
  for (const screen of ["/roster", "/ledger", "/sessions"]) {
    check(await hp.isVisible(`a[href='${screen}']`), `an institution administrator's home offers ${screen}`);
  }
  const work = process.env.NATLIS_WORK;
  const roster = path.join(work, "demo-rosters", "INST-BJH-new-staff.csv");
  check(fs.existsSync(roster), `the demo left a roster to try at ${roster}`);
  await hp.goto(`${base}/roster`);
  await hp.setInputFiles("#roster-file", roster);
  await answeredLike(hp, "/roster/preview", () => hp.click("#roster-preview"));
  const problems = await hp.$$eval("#roster-problems tbody tr", (rows) => rows.map((r) => r.textContent));
  check(problems.length === 3, `the preview lists the three rows to fix: ${problems.join(" | ")}`);
  check(problems.some((p) => p.includes("证件号码错误")) && problems.some((p) => p.includes("人员类别不存在")) && problems.some((p) => p.includes("重复")),
    "each problem is named: the ID number, the class, the duplicate");
  check(await hp.isDisabled("#roster-apply"), "a roster with problems cannot be applied");
  await accessible(hp, "the roster preview");
  await shot(hp, "roster-problems");
  // Fixed: the three rows taken out.
  const fixed = path.join(work, "INST-BJH-new-staff-fixed.csv");
  const lines = fs.readFileSync(roster, "utf8").trimEnd().split("\n");
  fs.writeFileSync(fixed, lines.slice(0, lines.length - 3).join("\n") + "\n");
  await hp.setInputFiles("#roster-file", fixed);
  await answeredLike(hp, "/roster/preview", () => hp.click("#roster-preview"));
  check(!(await hp.$("#roster-problems")) && !(await hp.isDisabled("#roster-apply")), "the fixed roster may be applied");
  await answeredLike(hp, "/roster/apply", () => hp.click("#roster-apply"));
  check((await hp.textContent("#roster-result")).includes("名单已导入：新增 8 人"), "the roster is applied: eight join");
  await shot(hp, "roster-applied");

  await hp.goto(`${base}/ledger?state=never_tested`);
  const never = Number((await hp.textContent("#ledger-counts a.duty-never_tested strong")).trim());
  check(never >= 8, `the new staff are on the ledger, never tested (${never})`);
  await accessible(hp, "the ledger");
  await shot(hp, "ledger-never-tested");
  const xlsx = await ctx.request.get(`${base}/api/v1/institutions/INST-BJH/ledger?format=xlsx`);
  check(xlsx.status() === 200 && xlsx.headers()["content-type"].includes("spreadsheetml"), "the ledger downloads as a workbook");

  // Group testing for the overdue and never tested, at Zhongguancun today.
  await hp.goto(`${base}/sessions`);
  await hp.selectOption("#session-site", "S-ZGC");
  await hp.check("input[name=who][value=overdue]");
  await Promise.all([hp.waitForURL(/\/sessions\/[0-9]+/), hp.click("#session-order")]);
  const members = await hp.$$eval("#session-members tbody tr", (rows) => rows.map((r) => ({
    code: r.querySelector("td:nth-child(2) code").textContent.trim(),
    single: r.querySelector("td:nth-child(4)").textContent.includes("单采"),
  })));
  check(members.length >= 8 && members.every((m) => /^P[0-9A-Z]{10}$/.test(m.code)), `the session lists everyone to test with a personal code (${members.length})`);
  // (Those to be tested singly — a swab to take again — are marked so; the pool takes the others.)
  const codes = members.filter((m) => !m.single).map((m) => m.code);
  await accessible(hp, "a group session");
  await shot(hp, "session-ordered");
  const sheet = await ctx.request.get(`${base}${await hp.getAttribute("#session-sheet", "href")}`);
  const pdf = await sheet.body();
  check(sheet.status() === 200 && pdf.slice(0, 5).toString() === "%PDF-" && pdf.toString("latin1").includes(`(${codes[0]})`),
    "the QR sheet prints as a PDF with the codes");
  fs.writeFileSync(path.join(shots, "session-sheet.pdf"), pdf);
  const session = hp.url();
  await ctx.close();
  return { codes: codes.slice(0, 5), session };
}

// After the lab released them: the five who came are covered, the session shows them.
async function theLedgerTurnsGreen(browser, ordered) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const hp = await ctx.newPage();
  await login(hp, "hr-bjh");
  await hp.goto(ordered.session);
  check((await hp.$$("#session-members tr.duty-covered")).length === 5, "the session shows the five who came");
  await shot(hp, "session-came");
  await hp.goto(`${base}/ledger?state=covered`);
  const green = await hp.$$eval("#ledger-lines tbody tr.duty-covered", (rows) => rows.length);
  check(green >= 5, `after the results the ledger turns green (${green} covered)`);
  await shot(hp, "ledger-green");
  // The month's compliance report: today's share on duty counts the five, as the ledger does.
  await hp.click("#open-report");
  await hp.waitForSelector("#chart-daily svg");
  const today = await hp.$eval("#report-days tbody tr td:nth-child(3)", (td) => Number(td.textContent));
  check(today >= green, `the report's on-duty count today (${today}) is the ledger's (${green})`);
  await shot(hp, "compliance-report");
  await ctx.close();
}

// Self-registration: the hospital's office prints a poster; a new nurse scans it on her phone,
// mistypes her ID number (named), fixes it and is told to wait; the office approves her and she
// is on the ledger.
async function theStaffRegisterThemselves(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const hp = await ctx.newPage();
  await login(hp, "hr-bjh");
  await hp.goto(`${base}/ledger`);
  const before = Number((await hp.textContent("#ledger-counts .tile strong")).trim());
  await hp.goto(`${base}/enrolments`);
  if (await hp.$("#make-poster")) {
    await Promise.all([hp.waitForSelector("#open-poster"), hp.click("#make-poster")]);
  }
  await accessible(hp, "the self-registration screen");
  await hp.goto(`${base}${await hp.getAttribute("#open-poster", "href")}`);
  check(await hp.isVisible("#poster-qr svg"), "the poster carries a QR code");
  const url = (await hp.textContent("#poster-url")).trim();
  check(/\/join\/[A-Za-z0-9_-]+$/.test(url), `the poster names its link (${url})`);
  await shot(hp, "enrolment-poster");

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN" });
  const pp = await phone.newPage();
  await pp.goto(url);
  check((await pp.textContent("h1")).includes("北京"), "the scanned poster names the hospital");
  const id = idNumber(777);
  const wrong = id.slice(0, 17) + (id[17] === "0" ? "1" : "0");
  await pp.fill("input[name=name]", "王小明");
  await pp.fill("input[name=doc_no]", wrong);
  await pp.fill("input[name=phone]", "13912345678");
  await pp.selectOption("select[name=class]", "医务人员");
  await accessible(pp, "the public registration form");
  await shot(pp, "join-form");
  await Promise.all([pp.waitForNavigation(), pp.click("#join-send")]);
  check((await pp.textContent("#join-problem")).includes("证件号码错误"), "a wrong ID number is named, the form kept");
  check((await pp.inputValue("input[name=name]")) === "王小明", "what was typed is still there");
  await shot(pp, "join-problem");
  await pp.fill("input[name=doc_no]", id);
  await Promise.all([pp.waitForNavigation(), pp.click("#join-send")]);
  check((await pp.textContent("#join-receipt")).includes("王**"), "the registration is sent and waits (masked)");
  await shot(pp, "join-sent");
  await phone.close();

  await hp.goto(`${base}/enrolments`);
  const row = hp.locator("#enrolments-pending tbody tr", { hasText: "王**" });
  check(await row.count() === 1, "the office sees the request waiting");
  await shot(hp, "enrolment-pending");
  await Promise.all([hp.waitForNavigation(), row.locator("button.approve").click()]);
  check((await hp.textContent("#enrolments-decided")).includes("已通过"), "the request is approved");
  await shot(hp, "enrolment-approved");
  await hp.goto(`${base}/ledger`);
  const after = Number((await hp.textContent("#ledger-counts .tile strong")).trim());
  check(after === before + 1, `she is on the ledger (${before} → ${after})`);
  await ctx.close();
}

// The public list: a phone, no login — the labs the authority published that are qualified;
// the authority's screen says why Daxing's lab is not on it.
async function thePublicFindsALab(browser) {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN" });
  const pp = await phone.newPage();
  await pp.goto(`${base}/login`);
  await Promise.all([pp.waitForNavigation(), pp.click("#find-lab")]);
  check(await pp.isVisible("#lab-LAB-HD") && !(await pp.$("#lab-LAB-DA")), "the public list shows the qualified labs, not the lapsed one");
  check((await pp.textContent("#lab-LAB-HD")).includes("承诺 12 小时内出报告"), "each lab with its report-time promise");
  await accessible(pp, "the public list of labs");
  await shot(pp, "public-labs");
  await pp.selectOption("select[name=district]", "110108");
  await Promise.all([pp.waitForNavigation(), pp.click("#labs-filter button[type=submit]")]);
  check(await pp.isVisible("#lab-LAB-HD") && !(await pp.$("#lab-LAB-KY")), "the district filter keeps Haidian's lab only");
  await phone.close();

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const ap = await ctx.newPage();
  await login(ap, "authority-bj");
  await ap.goto(`${base}/accreditation`);
  check((await ap.textContent("#acc-LAB-DA")).includes("最近一次室间质评未通过"), "the authority sees why Daxing's lab is not qualified");
  await accessible(ap, "the accreditation screen");
  await shot(ap, "accreditation");
  await ap.goto(`${base}/accreditation/LAB-KY`);
  check((await ap.textContent("#qualification")).includes("否"), "Wangjing's lab (a penalty 23 months ago) may not do large-scale work");
  await shot(ap, "accreditation-lab");
  await ctx.close();
}

// A member of the public on a phone: finds a lab, books today's first free slot at Zhongguancun,
// confirms with their ID card, shows the booking code; the collector scans the code into a pool
// (the person registered from the booking); the lab tests and releases it; the person looks the
// result up with their document, phone digits and booking code, downloads the certificate, and a
// checker verifies its QR code (read from the rendered PDF by zbarimg) on the verification page.
async function thePublicBooksAndGetsACertificate(browser, stamp) {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN" });
  const pp = await phone.newPage();
  pp.on("pageerror", (e) => { throw new Error(`a script error on the page: ${e}`); });
  await pp.goto(`${base}/labs`);
  await Promise.all([pp.waitForNavigation(), pp.click("#labs-book")]);
  await Promise.all([pp.waitForNavigation(), pp.click("#book-S-ZGC")]);
  await accessible(pp, "a site's slots");
  await shot(pp, "book-slots");
  const slot = await pp.$("[id^=reserve-]");
  if (!slot) {
    // After the day's last slot (23:00 local) there is nothing to book today: said so, and the
    // rest of this story waits for tomorrow.
    check(await pp.isVisible("#book-slots") || await pp.isVisible("#book-none"), "a late visitor sees today's slots taken or gone");
    console.log("browser: note — no slot left today; the booking-to-certificate story needs a same-day slot");
    await phone.close();
    return;
  }
  await Promise.all([pp.waitForURL(/\/booking\/B/), slot.click()]);
  check(await pp.isVisible("#booking-confirm"), "a reserved seat waits for its confirmation");
  const person = idNumber(700 + Number(stamp) % 200);
  const digits = String(Number(stamp) % 10000).padStart(4, "0");
  await pp.fill("input[name=name]", "预约测试");
  await pp.fill("input[name=doc_no]", person);
  await pp.fill("input[name=phone]", `1380000${digits}`);
  await Promise.all([pp.waitForNavigation(), pp.click("#booking-send")]);
  const booking = (await pp.textContent("#booking-code")).trim();
  check(/^B[0-9A-Z]{10}$/.test(booking), `the booking is confirmed with its code ${booking}`);
  check(!(await pp.content()).includes(person), "the booking page shows the ID number masked");
  await accessible(pp, "a confirmed booking");
  await shot(pp, "booking-code");

  // At the site: the collector scans the booking code where a person goes.
  const cctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const cp = await cctx.newPage();
  await login(cp, "collector-zgc");
  await cp.goto(`${base}/collect`);
  await cp.selectOption("#sampling", "10");
  const tube = `ZGC8${stamp}`;
  await scan(cp, tube);
  await scan(cp, booking);
  check((await cp.textContent("#fill")).includes("1/10"), `the booked person is in the tube by their booking code (${(await cp.textContent("#message")).trim()})`);
  await shot(cp, "collect-booking-scanned");
  await scan(cp, booking);
  check((await cp.textContent("#message")).includes("已使用过"), `the booking code a second time is refused (${(await cp.textContent("#message")).trim()})`);
  await answered(cp, "/collect/close", () => cp.click("#close-short"));
  await cctx.close();

  await theLab(browser, tube, person);

  // The person's results, on the phone.
  await pp.goto(`${base}/results`);
  await accessible(pp, "the results lookup");
  await pp.fill("input[name=doc_no]", person);
  await pp.fill("input[name=phone_last4]", "0000");
  await pp.fill("input[name=code]", booking);
  await Promise.all([pp.waitForNavigation(), pp.click("#results-look")]);
  check((await pp.textContent("#results-problem")).includes("还可尝试 4 次"), "a wrong phone digit is refused, with the tries left");
  await shot(pp, "results-refused");
  await pp.fill("input[name=doc_no]", person);
  await pp.fill("input[name=phone_last4]", digits);
  await pp.fill("input[name=code]", booking);
  await Promise.all([pp.waitForURL(/\/results\/[0-9a-f]{64}$/), pp.click("#results-look")]);
  check((await pp.textContent("#my-status-word")).includes("阴性"), "the person sees their negative");
  await accessible(pp, "the person's results");
  await shot(pp, "results-negative");
  const form = await pp.$("#my-results form");
  const action = await form.getAttribute("action");
  const result = await form.$eval("input[name=result]", (i) => i.value);
  const pdf = await phone.request.post(`${base}${action}`, { form: { result } });
  check(pdf.status() === 200 && pdf.headers()["content-type"] === "application/pdf", "the certificate downloads as a PDF");
  const file = path.join(process.env.NATLIS_WORK, `certificate-${stamp}.pdf`);
  fs.writeFileSync(file, await pdf.body());
  const png = path.join(process.env.NATLIS_WORK, `certificate-${stamp}`);
  execFileSync("pdftoppm", ["-r", "150", "-png", "-singlefile", file, png]);
  fs.copyFileSync(`${png}.png`, path.join(shots, `${String(++n).padStart(2, "0")}-certificate.png`));
  const payload = execFileSync("zbarimg", ["--raw", "-q", "-Sdisable", "-Sqrcode.enable", `${png}.png`]).toString().trim();
  check(payload.startsWith("NC1:"), "the certificate's QR code reads as a signed payload");

  // A checker at a gate: the verification page says it is valid, for this person.
  await pp.goto(`${base}/verify`);
  await pp.fill("#verify-payload", payload);
  await Promise.all([pp.waitForNavigation(), pp.click("#verify-check")]);
  check((await pp.textContent("#verdict-word")).includes("有效"), "the certificate verifies as valid");
  check((await pp.textContent("#verdict-name")).trim() === "预***", "with the holder's name masked");
  await accessible(pp, "the verification page");
  await shot(pp, "verify-valid");
  await phone.close();
}

async function login(page, username) {
  await page.goto(`${base}/login`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
}

// The collected tube at the lab: received, put on a new plate with the proposal, run (a practice
// run of the plate as loaded), imported after a preview, released by a reviewer; then the person
// who gave the swab is looked up.
async function theLab(browser, tube, personId) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const lp = await ctx.newPage();
  lp.on("pageerror", (e) => { throw new Error(`a script error on the page: ${e}`); });
  lp.on("dialog", (d) => d.accept());
  await login(lp, "tech-hd");
  check(await lp.isVisible("a[href='/reception']"), "a technician's home offers reception");

  // Reception: the scan box has the focus; the tube is signed in with its transport time.
  await lp.goto(`${base}/reception`);
  check(await focused(lp) === "scan-code", "reception: the scan box has the focus");
  await scan(lp, tube, "/reception/scan");
  check((await lp.textContent(`#row-${tube}`)).includes("转运"), "the tube is received, its transport time shown");
  check((await lp.getAttribute("#message", "class")).includes("ok"), "the receipt is confirmed in green");
  await shot(lp, "reception-received");
  await scan(lp, tube, "/reception/scan");
  check((await lp.textContent("#message")).includes("已经接收过"), "a second scan of the tube is refused by name");
  check(await focused(lp) === "scan-code", "after the refusal the focus is back in the box");
  await accessible(lp, "reception");
  await shot(lp, "reception-refused-twice");

  // The bench: a new 96-well plate; the tube scanned into A1, the rest as proposed.
  await lp.goto(`${base}/plates`);
  await lp.selectOption("#new-kit", "DAAN-ORF1AB-N");
  await tabTo(lp, "new-plate-submit");
  await Promise.all([lp.waitForURL(/\/plates\/LAB-HD-/), lp.keyboard.press("Enter")]);
  check(true, "a new plate is made with the keyboard alone");
  const run = (await lp.textContent("#run-no")).trim();
  check((await lp.textContent("#next-well")).trim() === "A1", `plate ${run} opens with A1 as the next well`);
  await scan(lp, tube, `/plates/${run}/scan`);
  check((await lp.textContent("#message")).includes(`${tube} 放入 A1`), "the scanned tube goes into A1");
  check((await lp.textContent("#next-well")).trim() === "A2", "the next well moves on to A2");
  check(await lp.getAttribute("td[data-well='A1']", "class") === "tube", "A1 shows a tube on the plate map");
  await shot(lp, "plate-one-tube");
  await answered(lp, `/plates/${run}/fill`, () => lp.click("#fill"));
  check((await lp.textContent("#message")).includes("板上已有"), "the proposal fills the free wells");
  await accessible(lp, "the plate builder");
  await shot(lp, "plate-filled");

  // The instrument's run, then its file: previewed against the layout, then imported.
  const file = path.join(process.env.NATLIS_WORK, `${run}.csv`);
  execFileSync(process.env.NATLIS_BIN, ["practice-run", ...process.env.NATLIS_DB_ARGS.split(/\s+/),
    "--plate", run, "--out", file], { stdio: ["ignore", "inherit", "inherit"] });
  check(await lp.isDisabled("#import-commit"), "the import waits for a preview");
  await lp.setInputFiles("#import-files", file);
  await answered(lp, `/plates/${run}/preview`, () => lp.click("#import-preview"));
  const preview = await lp.textContent("#import-preview-card");
  check(preview.includes("预览（尚未导入）") && preview.includes("运行有效"), "the preview shows the run valid, nothing imported yet");
  check(!(await lp.isDisabled("#import-commit")), "after the preview the import can be made");
  await shot(lp, "import-preview");
  await Promise.all([lp.waitForNavigation(), lp.click("#import-commit")]);
  check((await lp.getAttribute("td[data-well='A1']", "class")).includes("call-negative"), "after the import, A1 is coloured by its call");
  await shot(lp, "plate-resulted");

  // The reviewer: the plate's lanes; the clean negatives released at once.
  const rctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const rp = await rctx.newPage();
  rp.on("pageerror", (e) => { throw new Error(`a script error on the page: ${e}`); });
  await login(rp, "reviewer-hd");
  await rp.goto(`${base}/review`);
  check(await rp.isVisible(`a[href^='/review?plate=${run}']`), "the new plate waits for review");
  await rp.click(`a[href^='/review?plate=${run}']`);
  const clean = await rp.textContent("#lane-clean h3");
  check(/\((\d+)\)/.test(clean) && Number(clean.match(/\((\d+)\)/)[1]) > 0, `clean negatives are offered together: ${clean.trim()}`);
  await accessible(rp, "review");
  await shot(rp, "review-lanes");
  await tabTo(rp, "release-clean");
  await answered(rp, "/review/release", () => rp.keyboard.press("Enter"));
  check((await rp.textContent("#message")).includes("已发布"), "the clean negatives are released");
  check((await rp.textContent("#lane-clean h3")).includes("(0)"), "no clean negative is left on the plate");
  await shot(rp, "review-released");

  // The person who gave the swab: negative now, valid until a time.
  await rp.goto(`${base}/persons`);
  check(await focused(rp) === "scan-code", "the person search has the focus");
  await rp.keyboard.type(personId, { delay: 5 });
  await Promise.all([rp.waitForURL(/\/persons\/[0-9a-f-]{36}$/), rp.keyboard.press("Enter")]);
  check(!rp.url().includes(personId), "the ID number never goes into the address");
  const status = await rp.textContent("#person-status");
  check(status.includes("阴性") && status.includes("有效至"), `the person is negative: ${status.trim()}`);
  check(!(await rp.content()).includes(personId), "the person's page shows the ID number masked");
  await accessible(rp, "a person's page");
  await shot(rp, "person-negative");
  await ctx.close();
  await rctx.close();
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const stamp = Date.now().toString().slice(-6);
  try {
    const ordered = await theInstitutionOrders(browser);

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
    // Five of the hospital's staff come with the sheet: their QR codes scanned into the pool.
    for (const [k, code] of ordered.codes.entries()) {
      await scan(page, code);
      check((await page.textContent("#fill")).includes(`${4 + k}/10`),
        `the hospital's staff member ${k + 1} is in the tube by their code (${(await page.textContent("#message")).trim()})`);
    }

    // The same person again: refused, in red, the panel unchanged, the focus in the box.
    await scan(page, idNumber(3 + Number(stamp) % 500));
    const refused = await page.getAttribute("#message", "class");
    check(refused.includes("refused"), "a duplicate scan is refused");
    check((await page.textContent("#message")).includes("此人已在本管中"), "the refusal names the problem");
    check((await page.textContent("#fill")).includes("8/10"), "a refusal leaves the tube as it was");
    check(await page.evaluate(() => document.activeElement.id) === "scan-code", "after a refusal the focus is back in the box");
    await shot(page, "collect-refused-duplicate");

    // Close short with the count; the label is there to print.
    await answered(page, "/collect/close", () => page.click("#close-short"));
    check((await page.textContent("#message")).includes("不足 10 人"), "a short pool is closed and flagged");
    check(await page.getAttribute("#current", "value") === "", "after closing, the next scan opens a new tube");
    await shot(page, "collect-closed-short");
    const label = await context.request.get(`${base}/api/v1/tubes/${tube}/label.svg`);
    check(label.status() === 200 && (await label.text()).includes("<svg"), "the tube's label prints as SVG");
    await accessible(page, "the collection screen");

    await theLab(browser, tube, idNumber(1 + Number(stamp) % 500));
    await theLedgerTurnsGreen(browser, ordered);
    await theStaffRegisterThemselves(browser);
    await thePublicFindsALab(browser);
    await thePublicBooksAndGetsACertificate(browser, stamp);

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
