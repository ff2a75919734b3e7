// The live widgets' loader (issue 19). A page with widgets imports this module and calls
// mountAll(document): every <div class="fmnist-widget" data-widget="NAME"> gets
// `await (await import("./NAME.mjs")).mount(root, ctx)`. The context `ctx` gives a widget
// the build-time assets and the book's models, run by ONNX Runtime Web (single-threaded
// WebAssembly: no cross-origin isolation needed, so a static host such as GitHub Pages
// serves it). Every URL is built from this module's own URL, so nothing is fetched from
// another origin. When a widget cannot run, its one-line note stays in the page.
import * as ui from "./ui.mjs";

const ORT_DIR = new URL("./ort/", import.meta.url);
const ORT_MODULE = new URL("./ort/ort.wasm.min.mjs", import.meta.url);
const NEEDS_ENGINE = new Set(["predict", "shift", "occlusion"]);
const NO_WASM = "The live version of this figure needs WebAssembly, which this browser does "
  + "not offer; the figure above shows the same result.";
const NO_ENGINE = "The live version of this figure is absent: its engine (onnxruntime-web) was "
  + "not installed when this site was built; the figure above shows the same result.";

/** Softmax of each row of `logits` (rows of `classes`), in float64. */
export function softmax(logits, classes = 10) {
  const out = new Float64Array(logits.length);
  for (let row = 0; row < logits.length; row += classes) {
    let top = -Infinity;
    for (let i = 0; i < classes; i++) top = Math.max(top, logits[row + i]);
    let sum = 0;
    for (let i = 0; i < classes; i++) sum += (out[row + i] = Math.exp(logits[row + i] - top));
    for (let i = 0; i < classes; i++) out[row + i] /= sum;
  }
  return out;
}

/** The context every widget gets; one per page, shared by its widgets. */
export function createContext(base) {
  const assets = new URL(base || "./assets/", base ? document.baseURI : import.meta.url);
  const cache = new Map();
  const once = (key, make) => {
    if (!cache.has(key)) cache.set(key, make());
    return cache.get(key);
  };
  const timings = { sessionStartMs: {}, runs: {} };
  const ctx = {
    timings,
    ui,
    /** The absolute URL of a build-time asset. */
    asset: (file) => new URL(file, assets).href,
    /** A build-time JSON asset, parsed (fetched once per page). */
    json: (file) => once(`json:${file}`, async () => {
      const response = await fetch(ctx.asset(file));
      if (!response.ok) throw new Error(`${file}: HTTP ${response.status}`);
      return response.json();
    }),
    /** ONNX Runtime Web, configured: one thread, WebAssembly files from this site. */
    ort: () => once("ort", async () => {
      if (typeof WebAssembly !== "object") throw new ui.Absent(NO_WASM);
      const manifest = await ctx.json("manifest.json");
      if (!manifest.engine) throw new ui.Absent(NO_ENGINE);
      const ort = await import(ORT_MODULE.href);
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmPaths = ORT_DIR.href; // absolute, from this page's own location
      return ort;
    }),
    /** The InferenceSession of model "cnn" or "mlp" (created once). */
    session: (model) => once(`session:${model}`, async () => {
      const ort = await ctx.ort();
      const start = performance.now();
      const session = await ort.InferenceSession.create(ctx.asset(`${model}.onnx`), {
        executionProviders: ["wasm"], graphOptimizationLevel: "all",
      });
      timings.sessionStartMs[model] = performance.now() - start;
      return session;
    }),
    /**
     * Run `model` on `batch` images (Float32Array of batch * 784 values in [0, 1]).
     * Resolves to { logits, probs (float64, softmax per image), ms, ...extra outputs }:
     * each extra output (the CNN's conv1, conv2) as { data, dims }. Extra outputs are
     * fetched for a single image only, unless `outputs` names the ones wanted (a batch of
     * 169 occluded images needs only ["logits"]: the feature maps would be 17 MB).
     */
    run: async (model, pixels, batch = 1, { outputs: wanted } = {}) => {
      const ort = await ctx.ort();
      const session = await ctx.session(model);
      const input = new ort.Tensor("float32", Float32Array.from(pixels), [batch, 1, 28, 28]);
      const fetches = wanted || (batch === 1 ? session.outputNames : ["logits"]);
      const start = performance.now();
      const outputs = await session.run({ [session.inputNames[0]]: input }, fetches);
      const ms = performance.now() - start;
      const stats = (timings.runs[model] ||= { runs: 0, images: 0, ms: 0 });
      stats.runs += 1;
      stats.images += batch;
      stats.ms += ms;
      const result = { ms };
      for (const [name, tensor] of Object.entries(outputs)) {
        result[name] = name === "logits" ? tensor.data : { data: tensor.data, dims: tensor.dims };
      }
      result.probs = softmax(result.logits);
      return result;
    },
  };
  return ctx;
}

/** Mount every widget of `doc`; resolves when all have mounted (or kept their notes). */
export async function mountAll(doc = document) {
  const roots = [...doc.querySelectorAll(".fmnist-widget[data-widget]")];
  if (!roots.length) return [];
  const ctx = createContext(roots[0].dataset.base);
  window.fmnistWidgets = { ctx, ready: null };
  const mountOne = async (root) => {
    const name = root.dataset.widget;
    root.setAttribute("aria-busy", "true");
    try {
      if (NEEDS_ENGINE.has(name)) await ctx.ort();
      const module = await import(new URL(`./${name}.mjs`, import.meta.url).href);
      const note = root.querySelector(".fmnist-widget-note");
      const body = document.createElement("div");
      body.className = "fmnist-widget-body";
      // The widget builds itself in a detached container (its `root`), shown once it has
      // mounted; `outer` is the page's div. What mount returns is the widget's API, kept
      // on the div for the browser tests (tools/web/checks).
      root.fmnistApi = await module.mount(body, ctx, root);
      note?.remove();
      root.append(body);
      root.dataset.state = "ready";
    } catch (error) {
      root.dataset.state = "absent";
      const note = root.querySelector(".fmnist-widget-note");
      if (error instanceof ui.Absent) {
        if (note) note.textContent = error.message;
      } else {
        if (note) note.textContent = `The live version of this figure could not start (${error.message}); the figure above shows the same result.`;
        console.error(`fmnist widget ${name}:`, error);
      }
    } finally {
      root.removeAttribute("aria-busy");
    }
  };
  const ready = Promise.all(roots.map(mountOne));
  window.fmnistWidgets.ready = ready;
  return ready;
}
