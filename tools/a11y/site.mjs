// What check.mjs, phone.mjs and tools/web/checks/run.mjs share: the site and pages named on
// the command line, Debian's Chromium started by playwright-core (which downloads no
// browser of its own), and a context that reaches only the site.
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

// Refuse every request of `context` that does not go to `origin` (the site served on
// 127.0.0.1); returns the list the refused URLs are added to, for the check to report.
export async function blockOtherOrigins(context, origin) {
  const external = [];
  await context.route(() => true, (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`)) return route.continue();
    external.push(url);
    return route.abort();
  });
  return external;
}
