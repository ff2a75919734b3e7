// Widget 4 (Interpretability chapter): Occlusion computed in the browser by the chapter's
// own CNN, beside Captum's map of the same image computed at build time
// (occlusion.json, written and checked against ONNX Runtime by fmnist_edu/web/occlusion.py).
// A square of background slides over the image; every occluded copy runs in one batch;
// each pixel gets the mean drop of the predicted class's logit over the patches covering it.
import { floatImages, imagePicker, PIXELS, provenance, SIDE } from "./images.mjs";
import { argmax, drawMap, el, liveRegion, mapCanvas } from "./ui.mjs";

/** Top-left [row, col] of every patch position, row by row (as Captum slides it). */
export function corners(window, stride, side = SIDE) {
  const starts = [];
  for (let s = 0; s + window <= side; s += stride) starts.push(s);
  return starts.flatMap((r) => starts.map((c) => [r, c]));
}

/** The image (784 values) followed by one copy per patch with the patch set to 0. */
export function occludedBatch(image, window, stride) {
  const places = corners(window, stride);
  const batch = new Float32Array((places.length + 1) * PIXELS);
  batch.set(image, 0);
  places.forEach(([r, c], p) => {
    const copy = batch.subarray((p + 1) * PIXELS, (p + 2) * PIXELS);
    copy.set(image);
    for (let i = r; i < r + window; i++) copy.fill(0, i * SIDE + c, i * SIDE + c + window);
  });
  return batch;
}

/** Each pixel's mean of base - logits[p] over the patches p covering it (float32 sums). */
export function meanDrops(base, logits, window, stride) {
  const total = new Float32Array(PIXELS), count = new Float32Array(PIXELS);
  corners(window, stride).forEach(([r, c], p) => {
    const drop = Math.fround(base - logits[p]);
    for (let i = r; i < r + window; i++) {
      for (let j = c; j < c + window; j++) {
        total[i * SIDE + j] += drop;
        count[i * SIDE + j] += 1;
      }
    }
  });
  return total.map((t, i) => (count[i] ? t / count[i] : 0));
}

/** Maps stored as base64 of little-endian float32 (fmnist_edu.web.occlusion.encode). */
export function decodeMaps(text) {
  const bytes = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

/** Occlusion of `image` by the CNN: { map, target, passes, ms } (target: its prediction). */
export async function occlusionMap(ctx, image, window, stride) {
  const ort = await ctx.ort();
  const session = await ctx.session("cnn");
  const batch = occludedBatch(image, window, stride);
  const n = batch.length / PIXELS;
  const start = performance.now();
  const input = new ort.Tensor("float32", batch, [n, 1, SIDE, SIDE]);
  const { logits } = await session.run({ [session.inputNames[0]]: input }, ["logits"]);
  const ms = performance.now() - start;
  const target = argmax(logits.data.subarray(0, 10));
  const column = Float32Array.from({ length: n - 1 }, (_, p) => logits.data[(p + 1) * 10 + target]);
  const stats = (ctx.timings.runs["cnn occlusion"] ||= { runs: 0, images: 0, ms: 0 });
  Object.assign(stats, { runs: stats.runs + 1, images: stats.images + n, ms: stats.ms + ms });
  return { map: meanDrops(logits.data[target], column, window, stride), target, passes: n - 1, ms };
}

// The chapter's signed colour map (matplotlib's RdBu_r): blue against, white 0, red for.
const STOPS = [[5, 48, 97], [67, 147, 195], [247, 247, 247], [214, 96, 77], [103, 0, 31]];

function signedColour(v) {
  const x = (Math.min(1, Math.max(-1, v)) + 1) * 2, i = Math.min(3, Math.floor(x)), f = x - i;
  return STOPS[i].map((a, k) => Math.round(a + f * (STOPS[i + 1][k] - a)));
}

/** Draw a signed map on `canvas`, scaled so that +-`max` are the darkest red and blue. */
export function drawSigned(canvas, values, max) {
  canvas.width = SIDE;
  canvas.height = SIDE;
  const context = canvas.getContext("2d");
  const image = context.createImageData(SIDE, SIDE);
  values.forEach((v, i) => image.data.set([...signedColour(max > 0 ? v / max : 0), 255], 4 * i));
  context.putImageData(image, 0, 0);
}

function figure(label, canvas) {
  return el("figure", { class: "fmnist-occ-figure" }, canvas, el("figcaption", {}, label));
}

export async function mount(root, ctx) {
  const [records, stored, manifest] = await Promise.all([
    ctx.json("images.json"), ctx.json("occlusion.json"), ctx.json("manifest.json")]);
  const images = floatImages(records);
  const names = records.class_names;
  const captum = Object.fromEntries(Object.entries(stored.settings).map(([k, s]) => [k, decodeMaps(s.captum)]));
  const canvases = { image: mapCanvas("the test image"), browser: mapCanvas("occlusion map computed in this browser"),
    captum: mapCanvas("Captum's occlusion map, computed when the book was built") };
  const status = liveRegion();
  const picker = imagePicker("fmnist-occlusion-image", records, (i) => show(i, setting.value));
  const setting = el("select", { id: "fmnist-occlusion-setting", onchange: () => show(Number(picker.select.value), setting.value) },
    ...Object.entries(stored.settings).map(([key, s]) => el("option", { value: key },
      `${s.window} × ${s.window}, step ${s.stride}${key === "chapter" ? " (chapter)" : ""}: ${s.passes} passes`)));
  let busy = Promise.resolve();

  const compute = async (i, key) => {
    const s = stored.settings[key];
    const { map, target, passes, ms } = await occlusionMap(ctx, images[i], s.window, s.stride);
    const reference = captum[key].subarray(i * PIXELS, (i + 1) * PIXELS);
    let maxAbsDiff = 0, max = 0;
    reference.forEach((v, p) => { maxAbsDiff = Math.max(maxAbsDiff, Math.abs(v - map[p])); max = Math.max(max, Math.abs(v)); });
    drawMap(canvases.image, images[i], SIDE, SIDE);
    canvases.image.setAttribute("aria-label", `Test image ${records.indices[i]}: ${names[records.labels[i]]}`);
    drawSigned(canvases.browser, map, max);
    drawSigned(canvases.captum, reference, max);
    const agree = target === stored.targets[i] ? "" : ` (Captum's map explains ${names[stored.targets[i]]}, PyTorch's prediction)`;
    const verdict = target === records.labels[i] ? "right" : "wrong";
    status.say(`A ${names[records.labels[i]]}; the CNN predicts ${names[target]} (${verdict})${agree}. ${passes} forward passes in ${ms.toFixed(0)} ms in this browser; `
      + `largest difference from Captum's map: ${maxAbsDiff.toExponential(1)} (the darkest colour is ${max.toFixed(2)} logit units).`);
    return { index: i, setting: key, target, captumTarget: stored.targets[i], passes, ms, maxAbsDiff,
      map: Array.from(map), captum: Array.from(reference) };
  };
  const show = (i, key) => {
    picker.select.value = String(i);
    setting.value = key;
    busy = busy.catch(() => {}).then(() => compute(i, key));
    return busy;
  };

  root.append(
    el("div", { class: "fmnist-controls" }, picker.element,
      el("span", { class: "fmnist-occ-choice" }, el("label", { for: setting.id }, "Occlusion patch"), setting)),
    el("div", { class: "fmnist-occ-row" }, figure("image", canvases.image),
      figure("this browser", canvases.browser), figure("Captum (build)", canvases.captum)),
    status.element,
    el("p", { class: "fmnist-occ-note" }, "Red: hiding that patch lowers the predicted class's score (evidence for it); "
      + "blue: hiding it raises the score. Both maps share one colour scale."),
    provenance(manifest, ["cnn"]),
  );
  await show(0, "chapter");
  // The API the browser check drives: show an image and setting; the last map shown.
  return { show, current: () => busy };
}
