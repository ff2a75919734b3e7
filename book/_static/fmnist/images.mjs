// What the predict and shift widgets share: the build's test images (images.json), a
// picker for them, and the line naming the models' store entries and commit.
import { el } from "./ui.mjs";

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

/** The test images of images.json as Float32Arrays of 784 values in [0, 1]. */
export function floatImages(records) {
  return records.pixels.map((row) => Float32Array.from(row, (v) => v / 255));
}

/** `image` moved `dy` rows down and `dx` columns right, zero fill (fmnist_edu.transforms.shift). */
export function shiftImage(image, dy, dx) {
  const out = new Float32Array(PIXELS);
  for (let i = 0; i < SIDE; i++) {
    const from = i - dy;
    if (from < 0 || from >= SIDE) continue;
    for (let j = 0; j < SIDE; j++) {
      const col = j - dx;
      if (col >= 0 && col < SIDE) out[i * SIDE + j] = image[from * SIDE + col];
    }
  }
  return out;
}

/** A labelled <select> of the test images; `onPick(index)` on change. */
export function imagePicker(id, records, onPick) {
  const select = el("select", { id, onchange: () => onPick(Number(select.value)) },
    ...records.labels.map((label, i) => el("option", { value: i },
      `${i + 1}: ${records.class_names[label]} (test image ${records.indices[i]})`)));
  const label = el("label", { for: id }, "Test image ");
  return { element: el("span", {}, label, select), select };
}

/** One line: which trained models these are (store entry, seed, epochs, commit); `names`:
 * the models the widget runs (default: all the manifest has). */
export function provenance(manifest, names = Object.keys(manifest.models)) {
  const parts = names.map((name) => `${name.toUpperCase()} test accuracy `
    + `${(100 * manifest.models[name].test_accuracy).toFixed(1)} % (store entry ${manifest.models[name].store_key})`);
  const any = manifest.models[names[0]];
  return el("p", { class: "fmnist-provenance" },
    `The book's own ${names.map((n) => n.toUpperCase()).join(" and ")}: the seed-${any.seed} run${names.length > 1 ? "s" : ""} `
    + `of the Architectures chapter, ${any.epochs} epochs (${manifest.profile} profile), built `
    + `from commit ${any.commit}. This seed's ${parts.join("; ")}; the chapters report means `
    + `over seeds. ${names.length > 1 ? "They run" : "It runs"} in your browser (ONNX Runtime `
    + "Web); nothing is sent anywhere.");
}
