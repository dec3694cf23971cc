// The gen3d web page: submit a prompt or an image, follow the job's event stream, show the
// asset in the offline viewer. Requests go through fetch (not EventSource or <img src>) so
// that an API key can ride in the Authorization header.
"use strict";

const $ = (id) => document.getElementById(id);
const FINAL = new Set(["succeeded", "failed", "canceled"]);
let following = null; // AbortController of the event stream being read
let assetUrl = null; // object URL of the asset shown
let previewUrl = null; // object URL of the preview image shown (assets the viewer cannot show)

function headers(extra = {}) {
  const key = $("api-key").value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const problem = await response.json();
      detail = problem.detail || detail;
    } catch (_) { /* not problem details */ }
    throw new Error(detail);
  }
  return response;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function showJob(job) {
  const percent = Math.round(job.progress * 100);
  let text = job.status;
  if (job.status === "queued" && job.queue_position != null) {
    text += ` (${job.queue_position} ahead)`;
  } else if (job.status === "running") {
    text += ` · ${job.stage || "starting"} · ${percent}%`;
  } else if (job.status === "failed") {
    text += `: ${job.error}`;
  }
  $("status-text").textContent = text;
  $("status").dataset.status = job.status;
  $("progress").hidden = FINAL.has(job.status);
  $("progress").value = job.progress;
}

async function showResult(job) {
  const files = job.result.files;
  const asset = files.find((name) => name.startsWith("asset."));
  const blob = await (await api(job.links[asset])).blob();
  if (assetUrl) URL.revokeObjectURL(assetUrl);
  assetUrl = URL.createObjectURL(blob);
  const download = $("download");
  download.href = assetUrl;
  download.download = `${job.id}-${asset}`;
  download.textContent = `Download ${asset.split(".").pop().toUpperCase()}`;
  download.hidden = false;
  const viewable = asset.endsWith(".glb");
  $("viewer").hidden = !viewable;
  $("preview-image").hidden = viewable;
  if (viewable) {
    $("viewer").src = assetUrl;
  } else if (files.includes("preview.png")) { // USDZ: the viewer takes glTF only
    const image = await (await api(job.links["preview.png"])).blob();
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(image);
    $("preview-image").src = previewUrl;
  }
  const timings = Object.entries(job.result.timings || {})
    .map(([stage, seconds]) => `${stage} ${seconds.toFixed(1)} s`);
  $("timings").textContent = timings.join(" · ");
  $("refinement").textContent = describeRefinement(job.result);
  $("refinement").hidden = !job.result.view;
  const warnings = job.result.warnings || [];
  $("warning").textContent = warnings.join(" ");
  $("warning").hidden = warnings.length === 0;
}

// One line on a refined image job: the camera the photo was seen from, and its light.
function describeRefinement(result) {
  const view = result.view;
  if (!view) return "";
  let line = `Refined from azimuth ${Math.round(view.azimuth)}, ` +
    `elevation ${Math.round(view.elevation)}`;
  if (view.roll) line += `, the picture turned ${view.roll > 0 ? "+" : ""}${Math.round(view.roll)}`;
  line += ` (${view.source}`;
  if (view.source === "estimated") line += `, silhouette IoU ${view.iou.toFixed(2)}`;
  line += ")";
  const keptOut = [];
  if (result.light_contrast >= 0.05) {
    keptOut.push(`the photo's shading (contrast ${result.light_contrast.toFixed(2)})`);
  }
  if (result.highlights > 0) {
    keptOut.push(`${result.highlights} highlight${result.highlights > 1 ? "s" : ""}`);
  }
  if (result.shadow_light != null) {
    keptOut.push(`cast shadows (${Math.round(result.shadow_light * 100)}% of the light)`);
  }
  if (keptOut.length) {
    const last = keptOut.pop();
    const listed = keptOut.length ? `${keptOut.join(", ")} and ` : "";
    line += `; ${listed}${last} kept out of the texture`;
  }
  const symmetry = result.symmetry;
  if (symmetry && symmetry.carried > 0) {
    const share = `${Math.round(symmetry.carried * 100)}% of the texture`;
    if (symmetry.mirror != null) {
      line += `; its colours mirrored onto the side the photo does not show (${share})`;
    } else if (symmetry.round) {
      line += `; its colours carried round the round shape (${share})`;
    } else {
      const turn = Math.round(Math.min(...symmetry.turns));
      line += `; its colours carried round the shape (symmetric under turns of ${turn} degrees, ${share})`;
    }
  }
  return line + ".";
}

// Read text/event-stream from a fetch body; calls onEvent(job) for each "job" event.
async function readEvents(jobId, onEvent, signal) {
  const response = await api(`/jobs/${jobId}/events`, { signal });
  if (response.status === 204) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart()).join("\n");
      if (data) onEvent(JSON.parse(data));
    }
  }
}

async function follow(jobId) {
  if (following) following.abort();
  const controller = new AbortController();
  following = controller;
  $("download").hidden = true;
  $("timings").textContent = "";
  $("warning").hidden = true;
  $("refinement").hidden = true;
  let last = null;
  try {
    await readEvents(jobId, (job) => { last = job; showJob(job); }, controller.signal);
    if (!last || !FINAL.has(last.status)) {
      last = await (await api(`/jobs/${jobId}`)).json(); // the stream was cut: ask once
      showJob(last);
    }
    if (last.status === "succeeded") await showResult(last);
  } catch (error) {
    if (error.name !== "AbortError") showError(error.message);
  } finally {
    if (following === controller) following = null;
    refreshJobs();
  }
}

async function submit(event) {
  event.preventDefault();
  showError("");
  const mode = document.querySelector("input[name=mode]:checked").value;
  const options = {};
  const names = ["seed", "steps", "texture_size"];
  if (mode === "image") names.push("refine_steps"); // refining needs an image to match
  for (const name of names) {
    if ($(name).value !== "") options[name] = Number($(name).value);
  }
  const view = $("view").value.trim(); // the camera the image was taken from
  // Unset refine steps take the model's default (the default model refines image jobs).
  if (mode === "image" && options.refine_steps !== 0 && view) options.view = view;
  // Unchecked: the sides the photo does not show keep the model's colours.
  if (mode === "image" && !$("symmetry").checked) options.symmetry = false;
  options.format = $("format").value;
  const mesh = $("mesh-input").files[0]; // to start from, or to paint
  if (mesh) {
    if ($("strength").value !== "") options.strength = Number($("strength").value);
    if ($("keep_geometry").checked) options.keep_geometry = true;
  }
  let request;
  const prompt = $("prompt-input").value.trim();
  if (mode === "prompt" && !prompt) {
    showError("Describe the object first, e.g. 'a red chair'.");
    return;
  }
  if (mode === "prompt" && !mesh) {
    request = {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt, ...options }),
    };
  } else { // a form: an image or a prompt, and a mesh when one was chosen
    const form = new FormData();
    if (mode === "image") {
      const file = $("image-input").files[0];
      if (!file) { showError("Choose an image first."); return; }
      form.append("image", file);
    } else {
      form.append("prompt", prompt);
    }
    if (mesh) form.append("mesh", mesh);
    for (const [name, value] of Object.entries(options)) form.append(name, String(value));
    request = { method: "POST", body: form };
  }
  $("submit").disabled = true;
  try {
    const job = await (await api("/generate", request)).json();
    showJob(job);
    refreshJobs();
    await follow(job.id);
  } catch (error) {
    showError(error.message);
  } finally {
    $("submit").disabled = false;
  }
}

async function refreshJobs() {
  try {
    const list = await (await api("/jobs?limit=10")).json();
    const items = list.items.map((job) => {
      const item = document.createElement("li");
      const title = document.createElement("span");
      const painted = job.request.keep_geometry ? " (painting a mesh)" : "";
      const from = job.request.mesh && !painted ? " (from a mesh)" : "";
      title.textContent = (job.request.prompt || "(image)") + painted + from;
      const state = document.createElement("span");
      state.className = "state";
      state.textContent = job.status;
      item.append(title, state);
      item.dataset.jobId = job.id;
      item.addEventListener("click", () => follow(job.id));
      return item;
    });
    $("jobs").replaceChildren(...items);
  } catch (error) {
    showError(error.message);
  }
}

function setMode() {
  const image = document.querySelector("input[name=mode]:checked").value === "image";
  $("image-field").hidden = !image;
  $("refine-field").hidden = !image;
  $("view-field").hidden = !image;
  $("symmetry-field").hidden = !image;
  $("prompt-field").hidden = image;
}

$("api-key").value = localStorage.getItem("gen3d-api-key") || "";
$("api-key").addEventListener("change", () => {
  localStorage.setItem("gen3d-api-key", $("api-key").value.trim());
  refreshJobs();
});
for (const radio of document.querySelectorAll("input[name=mode]")) {
  radio.addEventListener("change", setMode);
}
$("generate-form").addEventListener("submit", submit);
refreshJobs();
