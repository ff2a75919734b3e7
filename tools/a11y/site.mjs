// What check.mjs and phone.mjs share: the site and pages named on the command line, and
// Debian's Chromium started by playwright-core (which downloads no browser of its own).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

// `node SCRIPT SITE [PAGE.html ...]`: the site folder and its pages (default: every .html
// file at its top, less the redirects: Jupyter Book's index.html only forwards).
export function sitePages(script, argv = process.argv.slice(2)) {
  const [site, ...wanted] = argv;
  if (!site || !existsSync(join(site, "index.html"))) {
    console.error(`usage: node tools/a11y/${script} SITE [PAGE.html ...]  (SITE holds index.html)`);
    process.exit(2);
  }
  const isRedirect = (name) => /http-equiv="refresh"/i.test(readFileSync(join(site, name), "utf8"));
  const pages = wanted.length
    ? wanted
    : readdirSync(site).filter((name) => name.endsWith(".html") && !isRedirect(name)).sort();
  return { site, pages };
}

// Headless Chromium (CHROMIUM, default /usr/bin/chromium) with its own network chatter off.
export async function launchChromium() {
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    console.error(`no browser at ${executablePath}: apt-get install -y chromium, or set CHROMIUM`);
    process.exit(2);
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}
