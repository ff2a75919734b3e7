// The Inductive bias chapter's widget: every test image moved 3 pixels right gets, in the
// browser, the probabilities PyTorch gave the same moved image at build time.
export const page = "inductive_bias.html";
export const widget = "shift";
export const TOLERANCE = 1e-4;

const argmax = (v) => v.indexOf(Math.max(...v));

export async function check(t) {
  await keyboard(t);
  const recorded = await t.asset("shift.json");
  const { dy, dx } = recorded.move;
  const count = recorded.probabilities.cnn.length;
  let worst = 0;
  for (let i = 0; i < count; i++) {
    await t.call("select", i);
    const got = await t.call("moveTo", dy, dx);
    if (got.dy !== dy || got.dx !== dx) t.fail(`image ${i}: moved by (${got.dy}, ${got.dx}), not (${dy}, ${dx})`);
    for (const model of ["cnn", "mlp"]) {
      const want = recorded.probabilities[model][i];
      worst = Math.max(worst, t.close(`image ${i} moved ${model}`, got[model], want, TOLERANCE));
      if (argmax(got[model]) !== argmax(want)) t.fail(`image ${i} moved: ${model} class ${argmax(got[model])}, PyTorch ${argmax(want)}`);
    }
  }
  t.log(`${count} test images moved (${dy}, ${dx}) x 2 models: max |browser - PyTorch| = ${worst.toExponential(2)}`);
  // The shift stops at the range's edge, as the chapter's -4..+4 curves do.
  const edge = await t.call("moveTo", 0, recorded.range + 3);
  if (edge.dx !== recorded.range) t.fail(`moving past ${recorded.range} px gave ${edge.dx}`);
}

// Keyboard: arrow keys on the image move it, Home puts it back.
export async function keyboard(t) {
  await t.call("moveTo", 0, 0);
  const canvas = t.page.locator('.fmnist-widget[data-widget="shift"] canvas').first();
  await canvas.focus();
  for (const key of ["ArrowRight", "ArrowRight", "ArrowUp"]) await t.page.keyboard.press(key);
  const moved = await t.call("current");
  if (moved.dx !== 2 || moved.dy !== -1) t.fail(`keys moved the image by (${moved.dy}, ${moved.dx}), not (-1, 2)`);
  await t.page.keyboard.press("Home");
  const back = await t.call("current");
  if (back.dx !== 0 || back.dy !== 0) t.fail(`Home left the image at (${back.dy}, ${back.dx})`);
}
