// The Architectures chapter's widget: for every test image of the picker, the CNN's and
// the MLP's probabilities computed in the browser equal PyTorch's at build time.
export const page = "architectures.html";
export const widget = "predict";
export const TOLERANCE = 1e-4;

const argmax = (v) => v.indexOf(Math.max(...v));

export async function check(t) {
  await keyboard(t);
  await touch(t);
  const records = await t.asset("images.json");
  const count = await t.call("select", 0).then(() => records.labels.length);
  let worst = 0;
  for (let i = 0; i < count; i++) {
    const got = await t.call("select", i);
    for (const model of ["cnn", "mlp"]) {
      const want = records.probabilities[model][i];
      worst = Math.max(worst, t.close(`image ${i} ${model}`, got[model], want, TOLERANCE));
      if (argmax(got[model]) !== argmax(want)) t.fail(`image ${i} ${model}: class ${argmax(got[model])}, PyTorch ${argmax(want)}`);
    }
  }
  t.log(`${count} test images x 2 models: max |browser - PyTorch| = ${worst.toExponential(2)}`);
  // Drawing: a vertical bar of painted pixels gives probabilities that add up to 1.
  const drawn = await t.call("drawPixels", Array.from({ length: 18 }, (_, k) => [5 + k, 14]));
  for (const model of ["cnn", "mlp"]) {
    const sum = drawn[model].reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-6) t.fail(`drawing: ${model} probabilities add up to ${sum}`);
  }
}

// Keyboard: on the cleared canvas, Space paints the pixel under the cursor (it starts in
// the centre), an arrow key moves the cursor, Delete erases.
export async function keyboard(t) {
  await t.call("drawPixels", []);
  const canvas = t.page.locator('.fmnist-widget[data-widget="predict"] canvas');
  await canvas.focus();
  await t.page.keyboard.press("Space");
  await t.page.keyboard.press("ArrowRight");
  await t.page.keyboard.press("ArrowRight");
  await t.page.keyboard.press("Space");
  await t.page.keyboard.press("Delete");
  const pixels = await t.call("pixels");
  const at = (row, col) => pixels[row * 28 + col];
  if (!(at(14, 14) === 1 && at(14, 16) === 0 && at(14, 17) > 0)) {
    t.fail(`keyboard drawing: pixels (14,14) ${at(14, 14)}, (14,16) ${at(14, 16)}, (14,17) ${at(14, 17)}`);
  }
}

// Touch: a tap on the cleared canvas paints the pixel under the finger.
export async function touch(t) {
  await t.call("drawPixels", []);
  const canvas = t.page.locator('.fmnist-widget[data-widget="predict"] canvas');
  const box = await canvas.boundingBox();
  const side = box.width / 28;
  await t.page.touchscreen.tap(box.x + 20.5 * side, box.y + 7.5 * side); // row 7, column 20
  const pixels = await t.call("pixels");
  if (pixels[7 * 28 + 20] !== 1 || pixels.filter((v) => v > 0).length !== 9) {
    t.fail(`a tap at row 7, column 20 painted ${pixels.filter((v) => v > 0).length} pixels, `
      + `that one ${pixels[7 * 28 + 20]}`);
  }
}
