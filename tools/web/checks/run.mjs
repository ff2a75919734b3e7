// Browser checks of the live widgets: `node tools/web/checks/run.mjs SITE [CHECK...]`.
//
// Serves the built site SITE over http on 127.0.0.1 (tools/a11y/phone.mjs's server) and
// opens it in Debian's Chromium (tools/a11y/site.mjs), refusing every request to anything
// but that server. Each check is a module tools/web/checks/NAME.mjs (default: all but
// this runner and files starting with "_") exporting `page` (the page it opens),
// `widget` (the data-widget it drives) and `async check(t)`, where `t` gives:
//   t.page      the playwright Page, its widgets mounted;
//   t.call(method, ...args)   calls the widget's API (what its mount() returned) in the
//               page and returns the result (JSON);
//   t.asset(file)   a build-time asset of the site (parsed JSON);
//   t.close(label, got, want, tolerance)   compares two arrays of numbers, failing past
//               the tolerance; returns the largest absolute difference;
//   t.fail(message), t.log(message).
// Each page must mount its widget, log no console error, and pass axe-core (serious and
// critical findings fail) at a desktop and a 390 px phone width. Prints the engine's
// session start and per-inference times as measured in the page. Exit 1 on any failure.
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { serve } from "../../a11y/phone.mjs";
import { blockOtherOrigins, launchChromium } from "../../a11y/site.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const AXE = createRequire(join(here, "../../a11y/package.json")).resolve("axe-core/axe.min.js");
const FAILING = new Set(["serious", "critical"]);
const VIEWPORTS = { desktop: { width: 1200, height: 900 }, phone: { width: 390, height: 844 } };

const [site, ...wanted] = process.argv.slice(2);
if (!site) {
  console.error("usage: node tools/web/checks/run.mjs SITE [CHECK ...]  (SITE: the built site)");
  process.exit(2);
}
const names = wanted.length ? wanted : readdirSync(here)
  .filter((f) => f.endsWith(".mjs") && f !== "run.mjs" && !f.startsWith("_"))
  .map((f) => basename(f, ".mjs")).sort();

const server = await serve(site);
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await launchChromium();
let failures = 0;

async function openPage(context, name, viewport) {
  const page = await context.newPage();
  page.setDefaultTimeout(120000);
  await page.setViewportSize(viewport);
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${origin}/${name}`, { waitUntil: "load" });
  try {
    await page.waitForFunction(() => window.fmnistWidgets?.ready, null, { timeout: 30000 });
    await page.evaluate(() => window.fmnistWidgets.ready);
  } catch (error) {
    problems.push(`the widgets' loader did not run: ${error.message.split("\n")[0]}`);
  }
  return { page, problems };
}

async function axe(page) {
  await page.addScriptTag({ path: AXE });
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return violations.filter((v) => FAILING.has(v.impact))
    .map((v) => `axe ${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
}

try {
  const context = await browser.newContext({ deviceScaleFactor: 1, hasTouch: true });
  const external = await blockOtherOrigins(context, origin);
  for (const name of names) {
    const spec = await import(pathToFileURL(join(here, `${name}.mjs`)).href);
    const found = [];
    const fail = (message) => { found.push(message); };
    const log = (message) => console.log(`     ${name}: ${message}`);
    const started = performance.now();
    const { page, problems } = await openPage(context, spec.page, VIEWPORTS.desktop);
    const selector = `.fmnist-widget[data-widget="${spec.widget}"]`;
    const state = await page.$eval(selector, (root) => [root.dataset.state, root.textContent.trim().slice(0, 200)])
      .catch(() => [null, `no ${selector} on ${spec.page}`]);
    if (state[0] !== "ready") for (const p of problems.splice(0)) fail(p);
    if (state[0] !== "ready") {
      fail(`the ${spec.widget} widget did not mount: ${state[1]}`);
    } else {
      const t = {
        page,
        log,
        fail,
        call: (method, ...args) => page.$eval(selector, (root, [m, a]) => root.fmnistApi[m](...a), [method, args]),
        asset: (file) => page.evaluate((f) => window.fmnistWidgets.ctx.json(f), file),
        close: (label, got, want, tolerance) => {
          if (got.length !== want.length) {
            fail(`${label}: ${got.length} values, expected ${want.length}`);
            return Infinity;
          }
          let worst = 0;
          got.forEach((g, i) => { worst = Math.max(worst, Math.abs(g - want[i])); });
          if (!(worst <= tolerance)) fail(`${label}: differs by ${worst.toExponential(2)} (tolerance ${tolerance})`);
          return worst;
        },
      };
      try {
        await spec.check(t);
      } catch (error) {
        fail(`check threw: ${error.message}`);
      }
      // Timings in the page: each session's start (the first includes compiling the
      // WebAssembly), and the time of one single-image inference after 5 warm-up runs.
      const timings = await page.evaluate(async () => {
        const { ctx } = window.fmnistWidgets;
        const image = new Float32Array(784).fill(0.5);
        const mean = {};
        for (const model of Object.keys(ctx.timings.sessionStartMs)) {
          for (let k = 0; k < 5; k++) await ctx.run(model, image);
          // The clock is coarse (0.1 ms) without cross-origin isolation: time 20 blocks of
          // 10 runs, and take the median block (robust to other programs' load).
          const blocks = [];
          for (let b = 0; b < 20; b++) {
            const start = performance.now();
            for (let k = 0; k < 10; k++) await ctx.run(model, image, 1, { outputs: ["logits"] });
            blocks.push((performance.now() - start) / 10);
          }
          mean[model] = blocks.sort((x, y) => x - y)[10];
        }
        return { start: ctx.timings.sessionStartMs, mean };
      });
      for (const [model, ms] of Object.entries(timings.start)) {
        log(`${model}: session start ${ms.toFixed(0)} ms, ${timings.mean[model].toFixed(3)} ms per image `
          + "(logits and softmax; median of 20 blocks of 10 single-image runs)");
      }
    }
    for (const finding of await axe(page)) fail(`desktop: ${finding}`);
    await page.close();
    const phone = await openPage(context, spec.page, VIEWPORTS.phone);
    for (const finding of await axe(phone.page)) fail(`phone: ${finding}`);
    const wide = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    if (wide > VIEWPORTS.phone.width + 1) fail(`phone: the page is ${wide} px wide (scrolls sideways)`);
    await phone.page.close();
    for (const p of [...problems, ...phone.problems]) fail(p);
    for (const url of new Set(external)) fail(`requested ${url} (only the site itself may be loaded)`);
    external.length = 0;
    for (const f of found) console.log(`FAIL ${name} (${spec.page}): ${f}`);
    console.log(`${found.length ? "FAIL" : "ok  "} ${name} (${spec.page}, ${((performance.now() - started) / 1000).toFixed(1)} s)`);
    failures += found.length;
  }
  await context.close();
} finally {
  await browser.close();
  server.close();
}
console.log(`${names.length} widget check(s): ${failures ? `${failures} failure(s)` : "all passed"}`);
process.exit(failures ? 1 : 0);
