// Widget 3: convolution arithmetic, in plain JavaScript (no ONNX Runtime, no WebAssembly).
// One convolution on a small grid: its output side, the formula with the reader's numbers,
// the kernel taps of a chosen output unit. Then the book's two blocks (convolution, ReLU,
// 2x2 max-pool, twice) on the 28 x 28 image: each layer's side and receptive field, and the
// input window a chosen unit of the last pool sees. The build checks these functions against
// fmnist_edu.summary (arithmetic.json, written by fmnist_edu/web/arithmetic.py).

import { el } from "./ui.mjs";

export const IMAGE_SIDE = 28;

/** Output side of a convolution or pool: floor((n + 2p - d(k - 1) - 1) / s) + 1. */
export function outputSide(n, k, s, p, d = 1) {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** The formula with the numbers filled in, as text. */
export function formulaText(n, k, s, p, d) {
  const out = outputSide(n, k, s, p, d);
  return `out = ⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1 = ⌊(${n} + 2·${p} − ${d}·(${k} − 1) − 1) / ${s}⌋ + 1 = ${out}`;
}

/**
 * The layers of a row ("conv": one convolution; "blocks": conv, 2x2 pool, conv, 2x2 pool),
 * each with its side and receptive field (Araujo et al., 2019), as fmnist_edu.summary
 * computes them; failsAt names the first layer left with no output (then the list stops).
 */
export function stack(kind, side, { kernel, stride, padding, dilation }) {
  const steps = [["conv1", kernel, stride, padding, dilation]];
  if (kind === "blocks") steps.push(["pool1", 2, 2, 0, 1], ["conv2", kernel, stride, padding, dilation], ["pool2", 2, 2, 0, 1]);
  const layers = [];
  let n = side, extent = 1, jump = 1, start = 0;
  for (const [name, k, s, p, d] of steps) {
    n = outputSide(n, k, s, p, d);
    if (n < 1) return { layers, failsAt: name };
    extent += d * (k - 1) * jump;
    start -= p * jump;
    jump *= s;
    layers.push({ name, side: n, field: Math.min(extent, side), extent, jump, start });
  }
  return { layers, failsAt: null };
}

/** Input rows (or columns) [first, last] that unit `index` of `layer` sees, clipped; null
 * when its field lies wholly in the padding (as fmnist_edu.summary.unit_window). */
export function unitWindow(layer, index, side) {
  const first = layer.start + index * layer.jump;
  const window = [Math.max(first, 0), Math.min(first + layer.extent - 1, side - 1)];
  return window[0] <= window[1] ? window : null;
}

/** Input positions (in padded coordinates) of the kernel taps of output unit `index`. */
export function taps(index, k, s, d) {
  return Array.from({ length: k }, (_, t) => index * s + t * d);
}

const CONTROLS = [
  ["side", "Input side n", 5, 12, 7],
  ["kernel", "Kernel size k", 1, 7, 3],
  ["stride", "Stride s", 1, 3, 1],
  ["padding", "Padding p", 0, 3, 1],
  ["dilation", "Dilation d", 1, 3, 1],
];

let counter = 0;

function slider(id, label, min, max, value) {
  const input = el("input", { type: "range", id, min, max, step: 1, value });
  const shown = el("output", { for: id }, String(value));
  const wrap = el("div", { class: "fmnist-control" }, el("label", { for: id }, `${label}: `, shown), input);
  return { wrap, input, show: () => { shown.textContent = input.value; } };
}

function canvas(label) {
  return el("canvas", { width: 224, height: 224, role: "img", "aria-label": label, class: "fmnist-grid" });
}

// Draw an n x n grid of cells of side `cell`; `fill(r, c)` gives a colour or null (white).
function grid(g, n, cell, fill, line = "#9a9a9a") {
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      g.fillStyle = fill(r, c) || "#ffffff";
      g.fillRect(c * cell, r * cell, cell, cell);
      g.strokeStyle = line;
      g.strokeRect(c * cell + 0.5, r * cell + 0.5, cell - 1, cell - 1);
    }
  }
}

// Size `canvas` to `side` x `side` canvas pixels and return its 2-D context.
function sized(canvas, side) {
  canvas.width = canvas.height = side;
  return canvas.getContext("2d");
}

const TAP = "#d95f02", WINDOW = "#fdb863", PAD = "#e6e6e6", UNIT = "#d95f02";

// The input in its padding (left) and the output (right), at one scale, on one canvas.
function drawConv(cvs, s, unit) {
  const { n, k, st, p, d, out } = s;
  const padded = n + 2 * p, cell = Math.floor(224 / Math.max(padded, out, 1));
  cvs.width = (padded + 1 + Math.max(out, 0)) * cell;
  cvs.height = Math.max(padded, out) * cell;
  const g = cvs.getContext("2d");
  const rows = taps(unit.r, k, st, d), cols = taps(unit.c, k, st, d);
  grid(g, padded, cell, (r, c) => {
    if (rows.includes(r) && cols.includes(c)) return TAP;
    if (r >= rows[0] && r <= rows.at(-1) && c >= cols[0] && c <= cols.at(-1)) return WINDOW;
    return r >= p && r < p + n && c >= p && c < p + n ? null : PAD;
  });
  g.translate((padded + 1) * cell, 0);
  if (out >= 1) grid(g, out, cell, (r, c) => (r === unit.r && c === unit.c ? UNIT : null));
  g.setTransform(1, 0, 0, 1, 0, 0);
  const reads = out >= 1 ? `; output unit (${unit.r}, ${unit.c}) reads padded rows ${rows[0]}–${rows.at(-1)} and columns ${cols[0]}–${cols.at(-1)}, every ${d} apart` : "";
  cvs.setAttribute("aria-label", `Left, the input: ${n} × ${n} pixels inside ${p} rows and columns of padding${reads}. `
    + (out >= 1 ? `Right, the output: ${out} × ${out}, unit (${unit.r}, ${unit.c}) chosen.` : "No output: the kernel does not fit."));
}

/** The 28 × 28 image with `window` ([rows, cols]) outlined, or nothing outlined (null). */
function drawField(cvs, window) {
  const cell = 8, g = sized(cvs, IMAGE_SIDE * cell);
  if (!window) {
    grid(g, IMAGE_SIDE, cell, () => null, "#d9d9d9");
    return;
  }
  const [[r0, r1], [c0, c1]] = window;
  grid(g, IMAGE_SIDE, cell, (r, c) => (r >= r0 && r <= r1 && c >= c0 && c <= c1 ? WINDOW : null), "#d9d9d9");
  g.strokeStyle = TAP;
  g.lineWidth = 2;
  g.strokeRect(c0 * cell + 1, r0 * cell + 1, (c1 - c0 + 1) * cell - 2, (r1 - r0 + 1) * cell - 2);
  g.lineWidth = 1;
}

/** Mount the explorable into `root` (needs no ctx.ort(): works without WebAssembly). */
export async function mount(root) {
  const id = `fmnist-arith-${++counter}`;
  const controls = Object.fromEntries(CONTROLS.map(([key, label, min, max, value]) => [key, slider(`${id}-${key}`, label, min, max, value)]));
  const unitRow = slider(`${id}-row`, "Output unit row", 0, 6, 3), unitCol = slider(`${id}-col`, "Output unit column", 0, 6, 3);
  const fieldRow = slider(`${id}-frow`, "pool2 unit row", 0, 6, 3), fieldCol = slider(`${id}-fcol`, "pool2 unit column", 0, 6, 3);
  const formula = el("p", { class: "fmnist-formula", "aria-live": "polite" });
  const view = canvas("input and output grids");
  const field = canvas("receptive field on the 28 by 28 image");
  const table = el("table", { class: "fmnist-layers" });
  const fieldText = el("p", { "aria-live": "polite" });
  root.replaceChildren(
    el("div", { class: "fmnist-controls", role: "group", "aria-label": "convolution settings" }, ...Object.values(controls).map((c) => c.wrap)),
    formula,
    el("div", { class: "fmnist-controls", role: "group", "aria-label": "output unit to trace" }, unitRow.wrap, unitCol.wrap),
    el("div", { class: "fmnist-figures" }, view),
    el("p", { class: "fmnist-note" }, "Left: the input (white) inside its padding (grey); orange cells are the kernel taps of the chosen output unit, light orange the window they span. Right: the output; the chosen unit in orange."),
    el("h4", {}, "Through the book's two blocks on a 28 × 28 image"),
    table,
    el("div", { class: "fmnist-controls", role: "group", "aria-label": "pool2 unit to trace" }, fieldRow.wrap, fieldCol.wrap),
    el("div", { class: "fmnist-figures" }, field),
    fieldText,
  );
  const all = [...Object.values(controls), unitRow, unitCol, fieldRow, fieldCol];
  const update = () => {
    const v = Object.fromEntries(Object.entries(controls).map(([key, c]) => [key, Number(c.input.value)]));
    const settings = { kernel: v.kernel, stride: v.stride, padding: v.padding, dilation: v.dilation };
    const out = outputSide(v.side, v.kernel, v.stride, v.padding, v.dilation);
    formula.textContent = formulaText(v.side, v.kernel, v.stride, v.padding, v.dilation) + (out < 1 ? ": the kernel does not fit, no output" : "");
    for (const s of [unitRow, unitCol]) {
      s.input.max = Math.max(out - 1, 0);  // the browser clamps the value to it
      s.input.disabled = out < 1;
    }
    const unit = { r: Math.min(Number(unitRow.input.value), Math.max(out - 1, 0)), c: Math.min(Number(unitCol.input.value), Math.max(out - 1, 0)) };
    drawConv(view, { n: v.side, k: v.kernel, st: v.stride, p: v.padding, d: v.dilation, out }, out >= 1 ? unit : { r: -99, c: -99 });
    const { layers, failsAt } = stack("blocks", IMAGE_SIDE, settings);
    table.replaceChildren(
      el("caption", {}, "Side and receptive field (RF) of each layer"),
      el("tr", {}, el("th", { scope: "col" }, "layer"), el("th", { scope: "col" }, "side"), el("th", { scope: "col" }, "RF (clipped to the image)")),
      ...layers.map((l) => el("tr", {}, el("th", { scope: "row" }, l.name), el("td", {}, String(l.side)), el("td", {}, `${l.field} × ${l.field}`))),
      ...(failsAt ? [el("tr", {}, el("th", { scope: "row" }, failsAt), el("td", { colspan: 2 }, "too small: no output"))] : []),
    );
    const last = layers.at(-1);
    for (const s of [fieldRow, fieldCol]) s.input.disabled = Boolean(failsAt || !last);
    if (failsAt || !last) {
      fieldText.textContent = `With these settings ${failsAt} has no output, so no unit of pool2 to trace.`;
      sized(field, 1);
      return;
    }
    for (const s of [fieldRow, fieldCol]) s.input.max = last.side - 1;
    const r = Number(fieldRow.input.value), c = Number(fieldCol.input.value);
    const rows = unitWindow(last, r, IMAGE_SIDE), cols = unitWindow(last, c, IMAGE_SIDE);
    if (!rows || !cols) {
      drawField(field, null);
      field.setAttribute("aria-label", `The 28 × 28 image; pool2's unit (${r}, ${c}) sees none of it`);
      fieldText.textContent = `Unit (${r}, ${c}) of pool2 sees only padding, no image pixel: its field of ` +
        `${last.extent} × ${last.extent} pixels lies outside the image. Pick a unit nearer the middle.`;
      return;
    }
    drawField(field, [rows, cols]);
    field.setAttribute("aria-label", `The 28 × 28 image; the window of pool2's unit (${r}, ${c}) outlined: rows ${rows[0]}–${rows[1]}, columns ${cols[0]}–${cols[1]}`);
    fieldText.textContent = `Unit (${r}, ${c}) of pool2 sees image rows ${rows[0]}–${rows[1]} and columns ${cols[0]}–${cols[1]}: ` +
      `a field of ${last.extent} × ${last.extent} pixels before clipping to the image, its units ${last.jump} pixels apart.`;
  };
  const refresh = () => { update(); for (const c of all) c.show(); };
  for (const c of all) c.input.addEventListener("input", refresh);
  refresh();
  const shown = () => ({ formula: formula.textContent, field: fieldText.textContent,
    layers: [...table.querySelectorAll("tr")].slice(1).map((tr) => [...tr.children].map((c) => c.textContent)) });
  // The API the browser check drives (tools/web/checks/arithmetic.mjs).
  return {
    stack, outputSide, unitWindow,
    /** Set the controls (any of side, kernel, stride, padding, dilation); return what is shown. */
    set: (values) => {
      for (const [key, value] of Object.entries(values)) controls[key].input.value = String(value);
      refresh();
      return shown();
    },
    shown,
  };
}
