// Small DOM helpers the widgets share: labelled controls, a table of probabilities with
// bars, and images or heat maps drawn on a <canvas>. Colours follow the book's figures:
// images are ink on paper (0 white, 1 black), non-negative maps go from white to dark
// orange, signed maps from purple through white to orange.

/** Thrown when a widget cannot run here (no WebAssembly, no engine): its note stays. */
export class Absent extends Error {}

/** `el("button", { type: "button", onclick }, "text", child)`: an element. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** A labelled <button type="button">. */
export function button(label, onClick, attrs = {}) {
  return el("button", { type: "button", class: "fmnist-button", onclick: onClick, ...attrs }, label);
}

/** A polite live region: screen readers announce what `say(text)` puts there. */
export function liveRegion(className = "fmnist-status") {
  const node = el("p", { class: className, role: "status", "aria-live": "polite" });
  return { element: node, say: (text) => { node.textContent = text; } };
}

/** Index of the largest value. */
export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export const percent = (p) => `${(100 * p).toFixed(1)} %`;

/**
 * A table of class probabilities, one column per model, each cell a bar and its value.
 * `update({ CNN: probs, MLP: probs })` redraws it; each model's predicted class is marked.
 */
export function probabilityTable(classNames, models, caption) {
  const cells = classNames.map(() => ({}));
  const head = el("tr", {}, el("th", { scope: "col" }, "class"),
    ...models.map((m) => el("th", { scope: "col" }, `${m} probability`)));
  const rows = classNames.map((name, c) => el("tr", {}, el("th", { scope: "row" }, name),
    ...models.map((m) => {
      const bar = el("span", { class: "fmnist-bar", "aria-hidden": "true" });
      const value = el("span", { class: "fmnist-bar-value" }, "–");
      cells[c][m] = { bar, value };
      return el("td", { class: `fmnist-prob fmnist-model-${m.toLowerCase()}` }, bar, value);
    })));
  const table = el("table", { class: "fmnist-probs" }, el("caption", {}, caption),
    el("thead", {}, head), el("tbody", {}, ...rows));
  const update = (probabilities) => {
    for (const m of models) {
      const probs = probabilities[m];
      const top = argmax(probs);
      classNames.forEach((_, c) => {
        const { bar, value } = cells[c][m];
        bar.style.width = `${(100 * probs[c]).toFixed(2)}%`;
        value.textContent = percent(probs[c]) + (c === top ? " (predicted)" : "");
        value.parentElement.classList.toggle("fmnist-top", c === top);
      });
    }
  };
  return { element: table, update };
}

const INK = (v) => { const g = Math.round(255 * (1 - v)); return [g, g, g]; };
const ORANGE = (v) => [255 - Math.round(v * (255 - 166)), 255 - Math.round(v * (255 - 54)),
  255 - Math.round(v * 255)];

// Signed: purple (-max) through white (0) to orange (+max), as the book's signed figures.
const SIGNED = (v) => (v >= 0 ? ORANGE(v) : [255 - Math.round(-v * (255 - 94)),
  255 - Math.round(-v * (255 - 60)), 255 - Math.round(-v * (255 - 153))]);

/**
 * Draw `values` (width * height, row-major) on `canvas` at one canvas pixel per value.
 * `scale`: "ink" (values in [0, 1]), "heat" (0 to `max`, white to dark orange) or
 * "signed" (-`max` purple, 0 white, `max` orange).
 */
export function drawMap(canvas, values, width, height, { scale = "ink", max = 1 } = {}) {
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  const colour = { ink: INK, heat: ORANGE, signed: SIGNED }[scale];
  const low = scale === "signed" ? -1 : 0;
  for (let i = 0; i < width * height; i++) {
    const v = Math.min(1, Math.max(low, max > 0 ? values[i] / max : 0));
    const [r, g, b] = colour(v);
    image.data.set([r, g, b, 255], 4 * i);
  }
  context.putImageData(image, 0, 0);
  return canvas;
}

/** A <canvas> showing an image or map, scaled up by CSS without smoothing. */
export function mapCanvas(label, cssSide) {
  return el("canvas", { class: "fmnist-map", role: "img", "aria-label": label,
    style: cssSide ? `width:${cssSide}px;height:${cssSide}px` : undefined });
}
