// Widget 2 (Inductive bias chapter): move a test image by -4..+4 pixels (buttons, arrow
// keys on the image, or dragging it) and watch the CNN's and the MLP's predictions and
// confidence change, with the CNN's conv1 and conv2 feature maps (after ReLU) for the
// moved image: the chapter's shift experiment, live.
import { floatImages, imagePicker, provenance, shiftImage, SIDE } from "./images.mjs";
import { argmax, button, drawMap, el, liveRegion, mapCanvas, percent, probabilityTable } from "./ui.mjs";

const SCALE = 6;

function largest(values) {
  let max = 0;
  for (const v of values) max = Math.max(max, v);
  return max;
}
const COLUMNS = 8; // feature maps per row

/**
 * Draw every channel of `output` ({ data, dims [1, C, H, W] }) in a grid on `canvas`,
 * dark orange at `max` (default: the largest value).
 */
function drawChannels(canvas, output, max = largest(output.data)) {
  const [, channels, height, width] = output.dims;
  const rows = Math.ceil(channels / COLUMNS);
  const gap = 1;
  const full = new Float32Array((rows * (height + gap) - gap) * (COLUMNS * (width + gap) - gap)).fill(NaN);
  const fullWidth = COLUMNS * (width + gap) - gap;
  for (let c = 0; c < channels; c++) {
    const top = Math.floor(c / COLUMNS) * (height + gap);
    const left = (c % COLUMNS) * (width + gap);
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++) full[(top + i) * fullWidth + left + j] = output.data[(c * height + i) * width + j];
    }
  }
  drawMap(canvas, full, fullWidth, full.length / fullWidth, { scale: "heat", max });
  // The gaps between maps (NaN) drawn grey.
  const context = canvas.getContext("2d");
  context.fillStyle = "#9a9a9a";
  for (let r = 1; r < rows; r++) context.fillRect(0, r * (height + gap) - gap, fullWidth, gap);
  for (let c = 1; c < COLUMNS; c++) context.fillRect(c * (width + gap) - gap, 0, gap, canvas.height);
  return max;
}

export async function mount(root, ctx) {
  const [records, manifest, recorded] = await Promise.all([
    ctx.json("images.json"), ctx.json("manifest.json"), ctx.json("shift.json")]);
  const images = floatImages(records);
  const names = records.class_names;
  const range = recorded.range;
  const state = { index: 0, dy: 0, dx: 0 };
  const scales = new Map();

  const canvas = mapCanvas("", SIDE * SCALE);
  canvas.tabIndex = 0;
  canvas.classList.add("fmnist-draw");
  const table = probabilityTable(names, ["CNN", "MLP"], "Class probabilities for the moved image");
  const status = liveRegion();
  const offset = el("p", { class: "fmnist-figure-label", "aria-hidden": "true" });
  const conv1 = mapCanvas("The CNN's 32 conv1 feature maps (after ReLU) for the moved image");
  const conv2 = mapCanvas("The CNN's 64 conv2 feature maps (after ReLU) for the moved image");
  conv1.classList.add("fmnist-features");
  conv2.classList.add("fmnist-features");
  const picker = imagePicker("fmnist-shift-image", records, (i) => { state.index = i; update(); });

  const describe = () => {
    const part = (n, plus, minus) => (n === 0 ? null : `${Math.abs(n)} px ${n > 0 ? plus : minus}`);
    return [part(state.dx, "right", "left"), part(state.dy, "down", "up")].filter(Boolean).join(" and ") || "not moved";
  };
  const update = async () => {
    const moved = shiftImage(images[state.index], state.dy, state.dx);
    drawMap(canvas, moved, SIDE, SIDE);
    canvas.setAttribute("aria-label", `The test image, a ${names[records.labels[state.index]]}, `
      + `${describe()}; arrow keys move it one pixel, Home puts it back`);
    const atLimit = Math.abs(state.dx) === range || Math.abs(state.dy) === range;
    offset.textContent = `Moved: ${describe()}` + (atLimit ? ` (the limit: ${range} px each way)` : "");
    const cnn = await ctx.run("cnn", moved); // one after the other: one WebAssembly thread
    const mlp = await ctx.run("mlp", moved);
    const probs = { CNN: cnn.probs, MLP: mlp.probs };
    table.update(probs);
    // One colour scale per image, the unmoved image's: a moved map keeps its colours.
    if (!scales.has(state.index)) {
      const still = await ctx.run("cnn", images[state.index]);
      scales.set(state.index, [largest(still.conv1.data), largest(still.conv2.data)]);
    }
    const [max1, max2] = scales.get(state.index);
    drawChannels(conv1, cnn.conv1, max1);
    drawChannels(conv2, cnn.conv2, max2);
    const said = (m) => `${m} says ${names[argmax(probs[m])]} (${percent(probs[m][argmax(probs[m])])})`;
    status.say(`A ${names[records.labels[state.index]]} ${describe()}: ${said("CNN")}; ${said("MLP")}.`);
    return { index: state.index, dy: state.dy, dx: state.dx, cnn: Array.from(cnn.probs), mlp: Array.from(mlp.probs) };
  };
  const clamp = (v) => Math.max(-range, Math.min(range, v));
  let pending = null;
  const moveTo = (dy, dx) => {
    state.dy = clamp(dy);
    state.dx = clamp(dx);
    pending = update();
    return pending;
  };
  const by = (dy, dx) => () => moveTo(state.dy + dy, state.dx + dx);

  canvas.addEventListener("keydown", (event) => {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (moves[event.key]) by(...moves[event.key])();
    else if (event.key === "Home") moveTo(0, 0);
    else return;
    event.preventDefault();
  });
  let drag = null;
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    drag = { x: event.clientX, y: event.clientY, dy: state.dy, dx: state.dx };
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const px = canvas.getBoundingClientRect().width / SIDE;
    const dy = clamp(drag.dy + Math.round((event.clientY - drag.y) / px));
    const dx = clamp(drag.dx + Math.round((event.clientX - drag.x) / px));
    if (dy !== state.dy || dx !== state.dx) moveTo(dy, dx);
  });
  const stop = () => { drag = null; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  root.append(
    el("div", { class: "fmnist-controls" }, picker.element),
    el("div", { class: "fmnist-controls", role: "group", "aria-label": `Move the image (up to ${range} pixels each way)` },
      button("← left", by(0, -1), { "aria-label": "Move the image 1 pixel left" }),
      button("right →", by(0, 1), { "aria-label": "Move the image 1 pixel right" }),
      button("↑ up", by(-1, 0), { "aria-label": "Move the image 1 pixel up" }),
      button("↓ down", by(1, 0), { "aria-label": "Move the image 1 pixel down" }),
      button("Reset", () => moveTo(0, 0), { "aria-label": "Reset: put the image back in the centre" })),
    el("div", { class: "fmnist-row" }, el("div", {}, offset, canvas), table.element),
    status.element,
    el("div", { class: "fmnist-row" },
      el("figure", { class: "fmnist-feature-figure" }, conv1,
        el("figcaption", { class: "fmnist-figure-label" }, "conv1: 32 maps, 28 × 28 (white 0, dark orange the unmoved image's largest value)")),
      el("figure", { class: "fmnist-feature-figure" }, conv2,
        el("figcaption", { class: "fmnist-figure-label" }, "conv2: 64 maps, 14 × 14"))),
    provenance(manifest),
  );
  await update();

  return {
    count: images.length,
    range,
    select: async (i) => { state.index = i; picker.select.value = String(i); return update(); },
    moveTo: async (dy, dx) => moveTo(dy, dx),
    /** The image shown and its move, once the last prediction has been drawn. */
    current: async () => { await pending; return { ...state }; },
  };
}
