// Widget 1 (Architectures chapter): pick a test image or draw one on a 28 x 28 canvas
// (mouse, touch or keyboard) and see the CNN's and the MLP's ten class probabilities side
// by side, computed in the browser by the chapter's own trained models.
import { floatImages, imagePicker, PIXELS, provenance, SIDE } from "./images.mjs";
import { argmax, button, drawMap, el, liveRegion, mapCanvas, percent, probabilityTable } from "./ui.mjs";

const SCALE = 7; // CSS px per image pixel: 196 px, fits a phone

export async function mount(root, ctx) {
  const [records, manifest] = await Promise.all([ctx.json("images.json"), ctx.json("manifest.json")]);
  const images = floatImages(records);
  const names = records.class_names;
  let pixels = Float32Array.from(images[0]);
  let source = 0; // the test image shown, or null once the reader draws
  let picked = 0; // the last test image picked (Previous and Next step from it)
  const cursor = { row: 14, col: 14 };

  const canvas = mapCanvas("", SIDE * SCALE);
  canvas.classList.add("fmnist-draw");
  canvas.tabIndex = 0;
  canvas.setAttribute("aria-label", "Drawing canvas, 28 by 28 pixels: draw with the mouse or a "
    + "finger; with the keyboard, move the cursor with the arrow keys, press Space to paint a "
    + "pixel and Delete to erase it");
  const table = probabilityTable(names, ["CNN", "MLP"], "Class probabilities");
  const status = liveRegion();
  const picker = imagePicker("fmnist-predict-image", records, (i) => select(i));

  const redraw = () => {
    drawMap(canvas, pixels, SIDE, SIDE);
    if (document.activeElement === canvas) {
      const context = canvas.getContext("2d");
      context.strokeStyle = "#1a5fb4";
      context.lineWidth = 0.15;
      context.strokeRect(cursor.col + 0.08, cursor.row + 0.08, 0.84, 0.84);
    }
  };
  let pending = null;
  let message = "";
  const predict = async () => {
    const input = Float32Array.from(pixels);
    const cnn = await ctx.run("cnn", input); // one after the other: one WebAssembly thread
    const mlp = await ctx.run("mlp", input);
    const probs = { CNN: cnn.probs, MLP: mlp.probs };
    table.update(probs);
    const said = (m) => `${m} says ${names[argmax(probs[m])]} (${percent(probs[m][argmax(probs[m])])})`;
    const truth = source === null ? "your drawing" : `a ${names[records.labels[source]]}`;
    message = `For ${truth}: ${said("CNN")}; ${said("MLP")}.`;
    if (!drawing) status.say(message); // while a stroke goes on, once at its end (stop)
    return { source, cnn: Array.from(cnn.probs), mlp: Array.from(mlp.probs) };
  };
  const update = () => {
    if (source === null) picker.select.value = "drawing";
    redraw();
    pending = predict();
    return pending;
  };
  const select = (i) => {
    source = i;
    picked = i;
    picker.select.value = String(i);
    pixels = Float32Array.from(images[i]);
    return update();
  };

  // Drawing: a soft round brush, as a pen stroke on a 28 x 28 garment.
  const paint = (row, col, erase = false) => {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const r = row + dy, c = col + dx;
        if (r < 0 || r >= SIDE || c < 0 || c >= SIDE) continue;
        const strength = dy === 0 && dx === 0 ? 1 : (dy === 0 || dx === 0 ? 0.6 : 0.3);
        const k = r * SIDE + c;
        pixels[k] = erase ? (dy || dx ? pixels[k] : 0) : Math.max(pixels[k], strength);
      }
    }
    source = null;
  };
  let drawing = false;
  let frame = null;
  const schedule = () => {
    if (frame === null) frame = requestAnimationFrame(() => { frame = null; update(); });
  };
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [Math.floor(((event.clientY - box.top) / box.height) * SIDE),
      Math.floor(((event.clientX - box.left) / box.width) * SIDE)];
  };
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    const [row, col] = at(event);
    paint(row, col);
    schedule();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const [row, col] = at(event);
    paint(row, col);
    schedule();
  });
  const stop = () => {
    if (!drawing) return;
    drawing = false;
    schedule(); // the stroke's last prediction, announced now that it has ended
  };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  canvas.addEventListener("keydown", (event) => {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (moves[event.key]) {
      cursor.row = Math.min(SIDE - 1, Math.max(0, cursor.row + moves[event.key][0]));
      cursor.col = Math.min(SIDE - 1, Math.max(0, cursor.col + moves[event.key][1]));
      redraw();
    } else if (event.key === " " || event.key === "Enter") {
      paint(cursor.row, cursor.col);
      schedule();
    } else if (event.key === "Delete" || event.key === "Backspace") {
      paint(cursor.row, cursor.col, true);
      schedule();
    } else {
      return;
    }
    event.preventDefault();
  });
  canvas.addEventListener("focus", redraw);
  canvas.addEventListener("blur", redraw);

  const clear = button("Clear the canvas", () => { pixels = new Float32Array(PIXELS); source = null; update(); });
  const step = (by) => () => select((picked + by + images.length) % images.length);
  picker.select.append(el("option", { value: "drawing", disabled: true }, "(your drawing)"));
  root.append(
    el("div", { class: "fmnist-controls" }, picker.element,
      button("Previous", step(-1), { "aria-label": "Previous test image" }),
      button("Next", step(1), { "aria-label": "Next test image" }), clear),
    el("div", { class: "fmnist-row" }, canvas, table.element),
    status.element,
    provenance(manifest),
  );
  await select(0);

  return {
    count: images.length,
    select: async (i) => select(i),
    /** Paint the pixels [[row, col], ...] on a cleared canvas; returns the predictions. */
    drawPixels: async (cells) => {
      pixels = new Float32Array(PIXELS);
      for (const [row, col] of cells) paint(row, col);
      return update();
    },
    /** The canvas's pixels, once the last prediction has been drawn. */
    pixels: async () => { await pending; return Array.from(pixels); },
  };
}
