// Widget 3's numbers against fmnist_edu.summary's: every row of arithmetic.json (written at
// build time by fmnist_edu/web/arithmetic.py) must give the same layers, sides, receptive
// fields and failing layer from arithmetic.mjs's pure functions.
//   node tools/web/checks/arithmetic.mjs SITE   (SITE: the built html folder)
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const KEYS = ["name", "side", "field", "extent", "jump", "start"];

/** Mismatches (as lines of text) between `fns` (arithmetic.mjs's exports) and `rows`. */
export function compare(fns, rows) {
  const bad = [];
  for (const row of rows) {
    const settings = { kernel: row.kernel, stride: row.stride, padding: row.padding, dilation: row.dilation };
    const got = fns.stack(row.kind, row.side, settings);
    const label = `${row.kind} n=${row.side} k=${row.kernel} s=${row.stride} p=${row.padding} d=${row.dilation}`;
    if (got.failsAt !== row.fails_at) bad.push(`${label}: fails at ${got.failsAt}, summary says ${row.fails_at}`);
    if (got.layers.length !== row.layers.length) { bad.push(`${label}: ${got.layers.length} layers, summary has ${row.layers.length}`); continue; }
    row.layers.forEach((want, i) => {
      for (const key of KEYS) {
        if (got.layers[i][key] !== want[key]) bad.push(`${label} ${want.name}.${key}: ${got.layers[i][key]}, summary says ${want[key]}`);
      }
    });
    const first = row.layers[0];
    if (first && row.kind === "conv") {
      const side = fns.outputSide(row.side, row.kernel, row.stride, row.padding, row.dilation);
      if (side !== first.side) bad.push(`${label}: outputSide ${side}, summary says ${first.side}`);
    }
  }
  return bad;
}

if (import.meta.url === pathToFileURL(process.argv[1] || "").href) {
  const site = resolve(process.argv[2] || "_build/quick/_build/html");
  const table = JSON.parse(readFileSync(join(site, "_static/fmnist/assets/arithmetic.json"), "utf8"));
  const fns = await import(pathToFileURL(join(site, "_static/fmnist/arithmetic.mjs")).href);
  const bad = compare(fns, table.rows);
  for (const line of bad.slice(0, 20)) console.error(line);
  console.log(`arithmetic: ${table.rows.length} settings, ${bad.length} mismatches with fmnist_edu.summary`);
  process.exit(bad.length ? 1 : 0);
}
