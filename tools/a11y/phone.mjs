// Phone layout check of a built book: `node tools/a11y/phone.mjs SITE [PAGE...]`.
//
// Serves SITE over http on 127.0.0.1 (a free port) and opens every page (default: every
// .html file at the top of SITE, less redirects) in Debian's Chromium (CHROMIUM, default
// /usr/bin/chromium; driven by playwright-core) at a 390 px wide phone viewport, with every
// request to anything but that server refused. On each page it fails on:
//   - figure text under 9 CSS px: every figure rendered by fmnist_edu.plots.BookFigure
//     carries its smallest font size (pt) and, for a PNG, its dpi in the file's metadata
//     ("fmnist-edu min_font_pt=... dpi=..."); the text's size on screen is that font size
//     times the figure's rendered width (CSS px) over its natural width (pt: an SVG's
//     width attribute, or a PNG's pixels / dpi * 72). A figure without that note cannot be
//     measured and fails too;
//   - a table, code cell, cell output, figure or equation (MathJax) that is wider than
//     the screen or clipped: whatever does not fit must sit in a container that scrolls
//     sideways (overflow-x auto or scroll), and the page itself never scrolls sideways;
//   - clipped link text in the "Previous / Next" links at the bottom of the page;
//   - any request the page tried to make to another host.
// Prints the article column's width (plots.PHONE_COLUMN_PX assumes it) and one line per
// finding, page by page; exit 1 on any finding, 2 on a usage error.
import { createServer } from "node:http";
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";
import { blockOtherOrigins, launchChromium, sitePages } from "./site.mjs";

export const MIN_TEXT_PX = 9;
export const VIEWPORT = { width: 390, height: 844 };
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
  ".json": "application/json", ".woff": "font/woff", ".woff2": "font/woff2",
  ".ttf": "font/ttf", ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};

/** The "fmnist-edu min_font_pt=... dpi=..." note of an SVG or PNG file, and its natural width in pt. */
export function figureFacts(bytes, name) {
  const isSvg = name.toLowerCase().endsWith(".svg");
  let note = null;
  let widthPt = null;
  if (isSvg) {
    const text = bytes.toString("utf8");
    note = text.match(/fmnist-edu min_font_pt=([\d.]+) dpi=([\d.]+)/);
    const width = text.match(/<svg\b[^>]*?\swidth="([\d.]+)(pt|px)?"/);
    if (width) widthPt = Number(width[1]) * (width[2] === "px" || !width[2] ? 0.75 : 1);
  } else if (bytes.subarray(1, 4).toString("latin1") === "PNG") {
    let pixels = bytes.readUInt32BE(16);
    for (let at = 8; at + 8 <= bytes.length; ) {
      const length = bytes.readUInt32BE(at);
      const type = bytes.subarray(at + 4, at + 8).toString("latin1");
      if (type === "tEXt" || type === "iTXt") {
        const found = bytes.subarray(at + 8, at + 8 + length).toString("latin1")
          .match(/fmnist-edu min_font_pt=([\d.]+) dpi=([\d.]+)/);
        note = note || found;
      }
      if (type === "IEND") break;
      at += 12 + length;
    }
    if (note) widthPt = (pixels / Number(note[2])) * 72;
  }
  if (!note || !widthPt) return null;
  return { minFontPt: Number(note[1]), widthPt };
}

/** Serve `site` on 127.0.0.1; resolves to the server once it listens (tools/web's checks use it too). */
export function serve(site) {
  const root = resolve(site);
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url, "http://x").pathname);
    let file = resolve(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) file = null;
    else if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!file || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" });
    response.end(readFileSync(file));
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done(server)));
}

// Runs in the page: the column's width, the figures to measure, and what does not fit.
function inspect() {
  const screen = document.documentElement.clientWidth;
  const article = document.querySelector(".bd-article") || document.querySelector("main") || document.body;
  const px = (n) => `${Math.round(n)} px`;
  const section = (el) => {
    const s = el.closest("section[id]");
    const h = s && s.querySelector(":scope > h1, :scope > h2, :scope > h3, :scope > h4");
    return h ? `"${h.textContent.replace(/[#¶\s]+$/, "").trim().slice(0, 60)}"` : "(top)";
  };
  const label = (el) => {
    const fig = el.closest("figure, div.figure, table, div.cell");
    const number = fig && fig.querySelector(".caption-number");
    if (number && !el.matches("mjx-math")) return `${number.textContent.trim()} (in section ${section(el)})`;
    return `in section ${section(el)}`;
  };
  const describe = (el) => {
    if (el.matches("mjx-math")) {
      const tex = el.closest("mjx-container")?.querySelector("mjx-assistive-mml")?.textContent || "";
      return `equation ${label(el)}${tex ? ` "${tex.replace(/\s+/g, " ").trim().slice(0, 50)}"` : ""}`;
    }
    if (el.matches("table")) return `table ${label(el)}`;
    if (el.matches("img, svg")) return `figure ${label(el)}`;
    if (el.closest("div.cell_output, div.output")) return `printed output ${label(el)}`;
    if (el.closest("div.cell_input")) return `code cell ${label(el)}`;
    return `code block ${label(el)}`;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.className && typeof el.className === "string"
    ? "." + el.className.trim().split(/\s+/).slice(0, 2).join(".") : "");
  // Does `el` (its content included) fit, or sit in something that scrolls sideways?
  const placement = (el) => {
    const own = getComputedStyle(el);
    let rect = el.getBoundingClientRect();
    let left = rect.left;
    let right = rect.right;
    if (el.scrollWidth > el.clientWidth + 1) {
      if (["hidden", "clip"].includes(own.overflowX)) return `its content is cut at its own edge (${name(el)} has overflow-x ${own.overflowX})`;
      if (own.overflowX === "visible") right = Math.max(right, left + el.scrollWidth);
    }
    let scrolls = false;
    for (let a = el.parentElement; a; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.overflowX === "visible") continue;
      const box = a.getBoundingClientRect();
      const inner = { left: box.left + a.clientLeft, right: box.left + a.clientLeft + a.clientWidth };
      if (a === document.documentElement || a === document.body) { inner.left = 0; inner.right = screen; }
      if (right <= inner.right + 1 && left >= inner.left - 1) continue;
      if (["auto", "scroll"].includes(style.overflowX) && a !== document.documentElement && a !== document.body) {
        scrolls = true;
        rect = box;
        left = box.left;
        right = box.right;
        continue;
      }
      return `${px(right - left)} wide, cut by ${name(a)} (overflow-x ${style.overflowX}) at ${px(inner.right - inner.left)}`;
    }
    if (right > screen + 1 || left < -1) {
      return `${px(right - left)} wide, beyond the ${px(screen)} screen${scrolls ? " (its scroll box too)" : ""}: the page scrolls sideways`;
    }
    return null;
  };

  const findings = [];
  const seen = new Set();
  const targets = article.querySelectorAll(
    "table, pre, mjx-container > mjx-math, img, figure svg, div.cell_output svg");
  for (const el of targets) {
    if (!el.getClientRects().length) continue;  // not displayed
    if (el.matches("pre") && el.closest("table")) continue;
    const problem = placement(el);
    const what = describe(el);
    if (problem && !seen.has(what + problem)) {
      seen.add(what + problem);
      findings.push(`${what}: ${problem}`);
    }
  }
  // The page as a whole: what makes it scroll sideways (the first few culprits).
  const wide = document.documentElement.scrollWidth;
  if (wide > screen + 1 && !findings.some((f) => f.includes("page scrolls sideways"))) {
    const culprits = [...document.body.querySelectorAll("*")]
      .filter((el) => el.getBoundingClientRect().right > screen + 1 && el.getClientRects().length)
      .filter((el) => !el.parentElement?.closest(".bd-article *:is(pre, .pst-scrollable-table-container, mjx-container)"))
      .filter((el) => ![...el.children].some((c) => c.getBoundingClientRect().right > screen + 1))
      .slice(0, 3).map((el) => `${name(el)} ${label(el)}`);
    findings.push(`the page is ${px(wide)} wide on a ${px(screen)} screen (scrolls sideways): ${culprits.join("; ")}`);
  }
  // "Previous" / "Next" link text cut off.
  for (const el of document.querySelectorAll(".prev-next-area a, .prev-next-area a *")) {
    const style = getComputedStyle(el);
    if (el.scrollWidth > el.clientWidth + 1 && style.overflowX !== "visible" && el.clientWidth > 0) {
      findings.push(`"${el.textContent.replace(/\s+/g, " ").trim()}" link text is cut (${px(el.clientWidth)} of ${px(el.scrollWidth)} shown)`);
      break;
    }
  }
  const figures = [...article.querySelectorAll("img")]
    .filter((img) => img.getClientRects().length && img.closest("figure, div.cell_output, div.output"))
    .map((img) => ({ src: img.currentSrc || img.src, width: img.getBoundingClientRect().width,
      loaded: img.complete && img.naturalWidth > 0, what: describe(img) }));
  // The text column: the article's content box (pages without one, like search, have none).
  const style = getComputedStyle(article);
  const column = article.matches(".bd-article")
    ? article.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) : 0;
  return { findings, figures, column };
}

async function main() {
  const { site, pages } = sitePages("phone.mjs");

  const server = await serve(site);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launchChromium();
  let failures = 0;
  const columns = new Set();
  try {
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    const external = await blockOtherOrigins(context, origin);
    for (const name of pages) {
      external.length = 0;
      const page = await context.newPage();
      page.setDefaultTimeout(60000);
      await page.goto(`${origin}/${name}`, { waitUntil: "load" });
      await page.evaluate(() => window.MathJax?.startup?.promise);
      const { findings, figures, column } = await page.evaluate(inspect);
      if (column > 0) columns.add(Math.round(column));
      for (const figure of figures) {
        if (!figure.loaded) {
          findings.push(`${figure.what}: the image did not load (${figure.src})`);
          continue;
        }
        const url = new URL(figure.src);
        let facts = null;
        if (url.origin === origin) {
          const file = join(site, decodeURIComponent(url.pathname));
          if (existsSync(file)) facts = figureFacts(readFileSync(file), file);
        }
        if (!facts) {
          findings.push(`${figure.what}: its text size cannot be measured (no "fmnist-edu min_font_pt" note: `
            + `not rendered by fmnist_edu.plots.BookFigure)`);
          continue;
        }
        const textPx = facts.minFontPt * (figure.width / facts.widthPt);
        if (textPx < MIN_TEXT_PX - 0.05) {
          findings.push(`${figure.what}: smallest text ${textPx.toFixed(1)} CSS px (under ${MIN_TEXT_PX}): `
            + `${facts.minFontPt} pt in a ${facts.widthPt.toFixed(0)} pt wide figure shown ${Math.round(figure.width)} px wide`);
        }
      }
      for (const url of new Set(external)) findings.push(`requested ${url} (only the site itself may be loaded)`);
      for (const finding of findings) console.log(`FAIL ${name}: ${finding}`);
      failures += findings.length;
      await page.close();
    }
    await context.close();
  } finally {
    await browser.close();
    server.close();
  }
  console.log(`article column at ${VIEWPORT.width} px: ${[...columns].sort().join(", ")} CSS px`);
  console.log(`${pages.length} pages at ${VIEWPORT.width} px: `
    + `${failures ? `${failures} finding(s)` : "every figure, table, output and equation fits or scrolls"}`);
  process.exit(failures ? 1 : 0);
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("phone.mjs")) await main();
