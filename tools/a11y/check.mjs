// Accessibility and offline check of a built book: `node tools/a11y/check.mjs SITE [PAGE...]`.
//
// Opens every page (default: every .html file at the top of SITE) in Debian's Chromium
// (CHROMIUM, default /usr/bin/chromium; playwright-core drives it, it downloads no browser),
// at a desktop and a phone width, with every http(s) request refused: the site must work
// from disk. Then runs axe-core (pinned in package.json) on the page. Fails (exit 1) on any
// serious or critical axe violation, or any request the page tried to make to the network;
// moderate and minor findings are listed but do not fail.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { launchChromium, sitePages } from "./site.mjs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const FAILING = new Set(["serious", "critical"]);
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };

const { site, pages } = sitePages("check.mjs");
const browser = await launchChromium();
let failures = 0;
try {
  for (const [label, viewport] of Object.entries(VIEWPORTS)) {
    const context = await browser.newContext({ viewport });
    const external = [];
    await context.route(/^https?:/, (route) => {
      external.push(route.request().url());
      return route.abort();
    });
    for (const name of pages) {
      external.length = 0;
      const page = await context.newPage();
      await page.goto(pathToFileURL(resolve(site, name)).href, { waitUntil: "load" });
      // Let MathJax typeset (it finishes after load) before axe reads the page. Without
      // MathJax (not loaded, or refused from a CDN) there is nothing to wait for.
      await page.evaluate(() => window.MathJax?.startup?.promise);
      await page.addScriptTag({ path: AXE });
      const { violations } = await page.evaluate(() => window.axe.run(document, {
        resultTypes: ["violations"],
      }));
      for (const v of violations) {
        const failing = FAILING.has(v.impact);
        failures += failing ? 1 : 0;
        console.log(`${failing ? "FAIL" : "note"} ${label} ${name}: ${v.impact} ${v.id}: `
          + `${v.help} (${v.nodes.length} element(s))`);
        for (const node of v.nodes.slice(0, 5)) {
          console.log(`     ${node.target.join(" ")}: ${node.html.replace(/\s+/g, " ").slice(0, 160)}`);
        }
      }
      for (const url of new Set(external)) {
        failures += 1;
        console.log(`FAIL ${label} ${name}: requested ${url} (the site must work offline)`);
      }
      await page.close();
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(`${pages.length} pages at ${Object.keys(VIEWPORTS).length} widths: `
  + `${failures ? `${failures} serious/critical finding(s)` : "no serious or critical findings"}`);
process.exit(failures ? 1 : 0);
