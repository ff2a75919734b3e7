// Screenshots of the live widgets, to look at: `node tools/web/screenshot.mjs SITE OUT PAGE...`
// writes OUT/PAGE-desktop.png (1200 px wide) and OUT/PAGE-phone.png (390 px) of each
// widget on each page (on a page without one, its "What the live widgets add" section),
// served as the checks serve the site (127.0.0.1 only).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { serve } from "../a11y/phone.mjs";
import { launchChromium } from "../a11y/site.mjs";

const [site, out, ...pages] = process.argv.slice(2);
if (!site || !out || !pages.length) {
  console.error("usage: node tools/web/screenshot.mjs SITE OUT PAGE.html ...");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const server = await serve(site);
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await launchChromium();
try {
  for (const [label, width] of [["desktop", 1200], ["phone", 390]]) {
    const context = await browser.newContext({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
    await context.route(() => true, (r) => (r.request().url().startsWith(origin) ? r.continue() : r.abort()));
    for (const name of pages) {
      const page = await context.newPage();
      await page.goto(`${origin}/${name}`, { waitUntil: "load" });
      const widgets = await page.$$(".fmnist-widget");
      if (widgets.length) {
        await page.waitForFunction(() => window.fmnistWidgets?.ready);
        await page.evaluate(() => window.fmnistWidgets.ready);
      }
      // A page without widgets (the execution report): its site-size section.
      const shown = widgets.length ? widgets : await page.$$("section[id^='what-the-live-widgets']");
      for (const [i, widget] of shown.entries()) {
        const file = join(out, `${name.replace(/\.html$/, "")}-${i}-${label}.png`);
        await widget.scrollIntoViewIfNeeded();
        await widget.screenshot({ path: file });
        console.log(file);
      }
      await page.close();
    }
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}
