// Widget 3 (Design choices chapter): the convolution-arithmetic explorable against
// fmnist_edu.summary. Every row of arithmetic.json (written at build time by
// fmnist_edu/web/arithmetic.py from real PyTorch layers) must give the same layers, sides,
// receptive fields and failing layer from arithmetic.mjs's functions, and the controls must
// show them. Two ways to run it:
//   node tools/web/checks/run.mjs SITE arithmetic   in Chromium, with the other checks;
//   node tools/web/checks/arithmetic.mjs SITE [MODULE]   in Node, the functions only (MODULE:
//     the arithmetic.mjs to test, default SITE's; the book's build runs it on the source).
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

export const page = "design_choices.html";
export const widget = "arithmetic";
const KEYS = ["name", "side", "field", "extent", "jump", "start"];
const settingsOf = (row) => ({ kernel: row.kernel, stride: row.stride, padding: row.padding, dilation: row.dilation });
const labelOf = (row) => `${row.kind} n=${row.side} k=${row.kernel} s=${row.stride} p=${row.padding} d=${row.dilation}`;

/** Mismatches (lines of text) between one table row and what the JavaScript gave for it
 * (`windows`: unit -> the unitWindow the JavaScript gives for pool2's unit). */
export function compareRow(row, got, side, windows = {}) {
  const bad = [], label = labelOf(row);
  if (got.failsAt !== row.fails_at) bad.push(`${label}: fails at ${got.failsAt}, summary says ${row.fails_at}`);
  if (got.layers.length !== row.layers.length) return [...bad, `${label}: ${got.layers.length} layers, summary has ${row.layers.length}`];
  row.layers.forEach((want, i) => {
    for (const key of KEYS) {
      if (got.layers[i][key] !== want[key]) bad.push(`${label} ${want.name}.${key}: ${got.layers[i][key]}, summary says ${want[key]}`);
    }
  });
  if (row.kind === "conv" && row.layers.length && side !== row.layers[0].side) bad.push(`${label}: outputSide ${side}, summary says ${row.layers[0].side}`);
  for (const [unit, want] of row.windows || []) {
    const mine = JSON.stringify(windows[unit] ?? null);
    if (mine !== JSON.stringify(want)) bad.push(`${label}: pool2 unit ${unit} sees ${mine}, summary says ${JSON.stringify(want)}`);
  }
  return bad;
}

/** The browser check (tools/web/checks/run.mjs). */
export async function check(t) {
  const { rows } = await t.asset("arithmetic.json");
  let bad = 0;
  for (const row of rows) {
    const got = await t.call("stack", row.kind, row.side, settingsOf(row));
    const side = await t.call("outputSide", row.side, row.kernel, row.stride, row.padding, row.dilation);
    const windows = {};
    for (const [unit] of row.windows || []) windows[unit] = await t.call("unitWindow", got.layers.at(-1), unit, row.side);
    for (const line of compareRow(row, got, side, windows)) { t.fail(line); bad += 1; }
  }
  // What the controls show: the formula's result and the two blocks' table.
  const conv = rows.filter((r) => r.kind === "conv" && r.side === 7);
  const blocks = rows.filter((r) => r.kind === "blocks");
  for (const row of [conv[5], conv.at(-1), ...blocks.filter((_, i) => i % 9 === 0)]) {
    const shown = await t.call("set", { side: row.side === 28 ? 7 : row.side, ...settingsOf(row) });
    if (row.kind === "conv") {
      const want = row.layers.length ? `= ${row.layers[0].side}` : "no output";
      if (!shown.formula.includes(want)) t.fail(`${labelOf(row)}: the formula shows "${shown.formula}", expected ${want}`);
    } else {
      const sides = shown.layers.filter((cells) => cells.length === 3).map((cells) => Number(cells[1]));
      const want = row.layers.map((l) => l.side);
      if (sides.join() !== want.join()) t.fail(`${labelOf(row)}: the table shows sides ${sides}, summary ${want}`);
      if (row.fails_at && !shown.layers.some((cells) => cells[0] === row.fails_at)) t.fail(`${labelOf(row)}: no "too small" row for ${row.fails_at}`);
    }
  }
  t.log(`${rows.length} settings: ${bad} mismatches with fmnist_edu.summary; the controls show the same`);
  await keyboard(t);
  await withoutWebAssembly(t);
}

// The explorable needs no WebAssembly: in a page without it, it still mounts and computes.
export async function withoutWebAssembly(t) {
  const page = await t.page.context().newPage();
  try {
    await page.addInitScript(() => { delete globalThis.WebAssembly; });
    await page.goto(t.page.url(), { waitUntil: "load" });
    await page.waitForFunction(() => window.fmnistWidgets?.ready);
    await page.evaluate(() => window.fmnistWidgets.ready);
    const root = '.fmnist-widget[data-widget="arithmetic"]';
    const state = await page.$eval(root, (r) => [r.dataset.state, typeof WebAssembly]);
    if (state[0] !== "ready" || state[1] !== "undefined") t.fail(`without WebAssembly: state ${state[0]} (WebAssembly ${state[1]})`);
    const shown = await page.$eval(root, (r) => r.fmnistApi.set({ side: 7, kernel: 3, stride: 2, padding: 0, dilation: 1 }));
    if (!shown.formula.endsWith("= 3")) t.fail(`without WebAssembly: the formula shows "${shown.formula}"`);
  } finally {
    await page.close();
  }
}

// Keyboard: arrow keys on the kernel slider change the formula; End on the pool2 row slider
// moves the traced unit to pool2's last row.
export async function keyboard(t) {
  await t.call("set", { side: 7, kernel: 3, stride: 1, padding: 1, dilation: 1 });
  const slider = (suffix) => t.page.locator(`.fmnist-widget[data-widget="arithmetic"] input[id$="-${suffix}"]`);
  await slider("kernel").focus();
  for (const key of ["ArrowRight", "ArrowRight"]) await t.page.keyboard.press(key);
  const wider = await t.call("shown");
  if (!wider.formula.endsWith("= 5")) t.fail(`kernel 5 by keyboard: the formula shows "${wider.formula}"`);
  await slider("frow").focus();
  await t.page.keyboard.press("End");
  const last = await t.call("shown");
  const side = Number(wider.layers.find((cells) => cells[0] === "pool2")?.[1]);
  if (!last.field.startsWith(`Unit (${side - 1}, `)) t.fail(`End on the pool2 row (side ${side}): "${last.field}"`);
}

if (import.meta.url === pathToFileURL(process.argv[1] || "").href) {
  const site = resolve(process.argv[2] || "_build/quick/_build/html");
  const { rows } = JSON.parse(readFileSync(join(site, "_static/fmnist/assets/arithmetic.json"), "utf8"));
  const module = resolve(process.argv[3] || join(site, "_static/fmnist/arithmetic.mjs"));
  const fns = await import(pathToFileURL(module).href);
  const bad = rows.flatMap((row) => {
    const got = fns.stack(row.kind, row.side, settingsOf(row));
    const windows = Object.fromEntries((row.windows || []).map(([unit]) => [unit, fns.unitWindow(got.layers.at(-1), unit, row.side)]));
    return compareRow(row, got, fns.outputSide(row.side, row.kernel, row.stride, row.padding, row.dilation), windows);
  });
  for (const line of bad.slice(0, 20)) console.error(line);
  console.log(`arithmetic: ${rows.length} settings, ${bad.length} mismatches with fmnist_edu.summary`);
  process.exit(bad.length ? 1 : 0);
}
