// Widget 4 (Interpretability chapter): Occlusion computed in the browser by the exported
// CNN equals Captum's map of the same image, computed at build time with the same weights
// (occlusion.json), for both of the widget's settings; and the map's time in the page.
export const page = "interpretability.html";
export const widget = "occlusion";
export const TOLERANCE = 1e-4;
const PIXELS = 784;

/** Image `i`'s map from the asset's base64 float32 maps, decoded here (not by the widget). */
function captumMap(text, i) {
  const bytes = Buffer.from(text, "base64");
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  return Array.from(all.subarray(i * PIXELS, (i + 1) * PIXELS));
}

// Keyboard: arrow keys on the two menus pick the next setting and the next image.
export async function keyboard(t) {
  await t.call("show", 0, "chapter");
  const menu = (id) => t.page.locator(`#${id}`);
  await menu("fmnist-occlusion-setting").focus();
  await t.page.keyboard.press("ArrowDown");
  const finer = await t.call("current");
  if (finer.setting !== "fine" || finer.index !== 0) t.fail(`ArrowDown on the setting gave ${finer.setting}, image ${finer.index}`);
  await menu("fmnist-occlusion-image").focus();
  await t.page.keyboard.press("ArrowDown");
  const next = await t.call("current");
  if (next.index !== 1 || next.setting !== "fine") t.fail(`ArrowDown on the image gave image ${next.index}, ${next.setting}`);
}

// Without WebAssembly the widget keeps a one-line note saying why, and the page no error.
export async function withoutWebAssembly(t) {
  const page = await t.page.context().newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    await page.addInitScript(() => { delete globalThis.WebAssembly; });
    await page.goto(t.page.url(), { waitUntil: "load" });
    await page.waitForFunction(() => window.fmnistWidgets?.ready);
    await page.evaluate(() => window.fmnistWidgets.ready);
    const [state, note] = await page.$eval('.fmnist-widget[data-widget="occlusion"]',
      (r) => [r.dataset.state, r.querySelector(".fmnist-widget-note")?.textContent ?? ""]);
    if (state !== "absent" || !note.includes("WebAssembly")) t.fail(`without WebAssembly: state ${state}, note "${note}"`);
    for (const e of errors) t.fail(`without WebAssembly: page error ${e}`);
  } finally {
    await page.close();
  }
}

export async function check(t) {
  await keyboard(t);
  await withoutWebAssembly(t);
  const stored = await t.asset("occlusion.json");
  const records = await t.asset("images.json");
  const images = [0, records.labels.length - 1];
  for (const setting of Object.keys(stored.settings)) {
    const times = [];
    for (const i of images) {
      const got = await t.call("show", i, setting);
      if (got.target !== stored.targets[i]) t.fail(`image ${i} ${setting}: browser explains class ${got.target}, Captum ${stored.targets[i]}`);
      const captum = captumMap(stored.settings[setting].captum, i);
      const worst = t.close(`image ${i} ${setting}: browser against Captum`, got.map, captum, TOLERANCE);
      t.close(`image ${i} ${setting}: the Captum map shown`, got.captum, captum, 0);
      if (captum.every((v) => v === 0)) t.fail(`image ${i} ${setting}: Captum's map is all zero`);
      times.push(got.ms);
      t.log(`image ${i}, ${got.passes} patches (${setting}): max |browser - Captum| = ${worst.toExponential(2)}, ${got.ms.toFixed(0)} ms`);
    }
    // Again, warm: the first map of a page also pays for the session's first run.
    const again = await t.call("show", images[0], setting);
    t.log(`${setting}: map time ${times.map((ms) => ms.toFixed(0)).join(", ")}, then ${again.ms.toFixed(0)} ms warm`);
  }
}
