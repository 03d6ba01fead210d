// The page's controller: speaks only the public v1 API (GET /v1/models, /v1/trajectories/presets,
// POST /v1/trajectories/preview, POST/GET /v1/generations, …/events (SSE) or polling, …/cancel or DELETE).
import { TrajectoryEditor, COLOURS, parseTxt, parseJson, toTxt } from "./editor.js";

const $ = id => document.getElementById(id);
const KEY = "tora-key";
const editor = new TrajectoryEditor($("canvas"));
let models = [], presets = [], image = null /* data URI */, watcher = null, current = null, videoUrl = null;
let flowVideo = null; /* File: an MP4 of flow images, the motion input instead of the trajectories */

// --- API -------------------------------------------------------------------------------------------------------
/** An API error with the problem+json body (RFC 9457 with code and errors[{pointer or parameter, code, detail}]). */
class ApiError extends Error {
  constructor(status, problem) {
    const fields = (problem?.errors ?? []).map(e => `${e.pointer ?? e.parameter}: ${e.detail}`);
    super(problem ? [`${problem.title ?? "Error"}${problem.detail ? ": " + problem.detail : ""}`, ...fields].join("\n") : `HTTP ${status}`);
    this.status = status; this.problem = problem;
  }
}
const key = () => localStorage.getItem(KEY) ?? "";
async function api(path, { json, ...options } = {}) {
  const headers = { Authorization: `Bearer ${key()}`, Accept: "application/json", ...(options.headers ?? {}) };
  if (json !== undefined) { headers["Content-Type"] = "application/json"; options.body = JSON.stringify(json); }
  // A FormData body sets its own multipart Content-Type (with the boundary).
  const r = await fetch(path, { ...options, headers });
  if (!r.ok) {
    let problem = null;
    try { problem = await r.json(); } catch { /* not JSON */ }
    throw new ApiError(r.status, problem);
  }
  return r;
}
const getJson = async (path, options) => (await api(path, options)).json();
/** Fetches an authenticated media URL as an object URL (video and thumbnails need the key). */
async function objectUrl(path) { return URL.createObjectURL(await (await api(path, { headers: { Accept: "*/*" } })).blob()); }

// --- errors next to their inputs ---------------------------------------------------------------------------------
function clearErrors() {
  document.querySelectorAll(".field-error").forEach(e => { e.textContent = ""; });
  document.querySelectorAll("[aria-invalid]").forEach(e => e.removeAttribute("aria-invalid"));
  $("formError").textContent = ""; $("banner").textContent = "";
  editor.errors.clear(); editor.draw();
}
const fieldInputs = { "/prompt": "prompt", "/negative_prompt": "negative", "/seed": "seed", "/steps": "steps", "/guidance_scale": "guidance", "/model": "model",
  "/motion/strength": "motionStrength", "/motion/start": "motionStart", "/motion/end": "motionEnd", "/flow_video": "flowFile" };
/**
 * The API's details count trajectories (in request order, where empty ones are skipped), points and frame indexes
 * from 0, like its pointers; the page numbers them from 1 in editor order. Rewrites a detail about editor
 * trajectory `t` in the page's numbers, so the message matches the row it is shown on.
 */
function pageNumbers(detail, t) {
  return detail.replace(/\btrajectory \d+/g, `trajectory ${t + 1}`)
    .replace(/\b(point|frame index) (\d+)/g, (_, what, i) => `${what} ${Number(i) + 1}`);
}
/** Puts each field error of a problem next to its input, down to the trajectory point; the rest goes to the form. */
function showProblem(e, fallback = $("formError")) {
  if (!(e instanceof ApiError)) { fallback.textContent = e.message ?? String(e); return; }
  const rest = [];
  for (const err of e.problem?.errors ?? []) {
    if (err.pointer === undefined) { rest.push(`${err.parameter}: ${err.detail}`); continue; }
    const m = /^\/trajectories\/(\d+)(?:\/points\/(\d+))?/.exec(err.pointer);
    if (m) {
      const t = editor.requestIndex(Number(m[1]));
      const detail = t >= 0 ? pageNumbers(err.detail, t) : err.detail;
      if (m[2] !== undefined && t >= 0) {
        editor.errors.set(`${t}/${m[2]}`, detail);
        editor.select(t, Number(m[2]));
        continue;
      }
      $("trajectoryError").textContent += (t >= 0 && !/\btrajectory \d/.test(detail) ? `Trajectory ${t + 1}: ` : "") + detail + "\n";
      continue;
    }
    const top = "/" + err.pointer.split("/")[1];
    const slot = document.querySelector(`.field-error[data-pointer="${top}"]`);
    if (slot) {
      slot.textContent += err.detail;
      const inputId = fieldInputs[err.pointer] ?? fieldInputs[top];
      const input = inputId && $(inputId);
      if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-errormessage", slot.id || (slot.id = "err" + top.slice(1))); }
    } else rest.push(`${err.pointer}: ${err.detail}`);
  }
  const placed = (e.problem?.errors?.length ?? 0) > rest.length;
  const head = placed ? `${e.problem?.title ?? "Request failed"} The marked fields say why.`
    : `${e.problem?.title ?? "Request failed"}${e.problem?.detail ? " " + e.problem.detail : ""}`;
  fallback.textContent = [head, ...rest].join("\n");
  renderTrajectories();
  editor.draw();
  const firstInvalid = document.querySelector('[aria-invalid="true"]');
  if (firstInvalid) firstInvalid.scrollIntoView({ block: "nearest" });
}

// --- trajectory list (keyboard-editable points, where point errors are shown) -------------------------------------
function renderTrajectories() {
  const list = $("trajectoryList");
  const open = new Set([...list.querySelectorAll("details[open]")].map(d => d.dataset.t));
  // Re-rendering replaces the inputs: keep keyboard focus on the same field.
  const focused = list.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
  list.replaceChildren(...editor.trajectories.map((t, ti) => {
    const d = document.createElement("details");
    d.dataset.t = String(ti);
    d.className = ti === editor.active ? "active" : "";
    const hasError = [...editor.errors.keys()].some(k => k.startsWith(ti + "/"));
    d.open = open.has(String(ti)) || hasError || ti === editor.active;
    const s = document.createElement("summary");
    const sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = COLOURS[ti % COLOURS.length];
    const label = document.createElement("span");
    label.textContent = `Trajectory ${ti + 1}: ${t.points.length} point${t.points.length === 1 ? "" : "s"}${ti === editor.active ? " (selected)" : ""}`;
    s.append(sw, label);
    s.addEventListener("click", () => { if (editor.active !== ti) setTimeout(() => editor.select(ti), 0); });
    const grid = document.createElement("div"); grid.className = "points";
    t.points.forEach(([x, y], pi) => {
      const err = editor.errors.get(`${ti}/${pi}`);
      const row = document.createElement("div");
      row.className = "point"; row.dataset.pointer = `/trajectories/${ti}/points/${pi}`;
      if (err) row.setAttribute("aria-invalid", "true");
      const n = document.createElement("span"); n.textContent = `${pi + 1}`; n.className = "muted";
      const mk = (v, axis) => {
        const i = document.createElement("input");
        i.type = "number"; i.step = "any"; i.value = String(v);
        i.setAttribute("aria-label", `Trajectory ${ti + 1} point ${pi + 1} ${axis}`);
        i.addEventListener("change", () => {
          const p = [...editor.trajectories[ti].points[pi]];
          p[axis === "x" ? 0 : 1] = Number(i.value);
          if (Number.isFinite(p[0]) && Number.isFinite(p[1])) editor.setPoint(ti, pi, p);
        });
        i.addEventListener("focus", () => { if (editor.active !== ti || editor.selected !== pi) { editor.active = ti; editor.selected = pi; editor.draw(); } });
        return i;
      };
      const del = document.createElement("button");
      del.type = "button"; del.textContent = "×"; del.setAttribute("aria-label", `Delete trajectory ${ti + 1} point ${pi + 1}`);
      del.addEventListener("click", () => editor.deletePoint(ti, pi));
      row.append(n, mk(x, "x"), mk(y, "y"), del);
      if (err) { const m = document.createElement("span"); m.className = "field-error"; m.textContent = err; m.setAttribute("role", "alert"); row.append(m); }
      grid.append(row);
    });
    d.append(s, grid);
    return d;
  }));
  if (focused) [...list.querySelectorAll("[aria-label]")].find(e => e.getAttribute("aria-label") === focused)?.focus();
  $("undo").disabled = !editor.canUndo; $("redo").disabled = !editor.canRedo;
  $("deletePoint").disabled = editor.selected < 0; $("deleteTrajectory").disabled = editor.active < 0;
}
// Rendered after the event that changed the drawing has finished, so a Tab that committed a point's value has
// already moved the focus to the next field, which the render then keeps.
let renderQueued = false;
editor.addEventListener("change", () => {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => { renderQueued = false; renderTrajectories(); }, 0);
});

// --- editor controls ----------------------------------------------------------------------------------------------
$("newTrajectory").onclick = () => { editor.newTrajectory(); $("canvas").focus(); };
$("deletePoint").onclick = () => editor.deletePoint();
$("deleteTrajectory").onclick = () => editor.deleteTrajectory();
$("undo").onclick = () => editor.undo();
$("redo").onclick = () => editor.redo();
$("clear").onclick = () => editor.clear();
document.addEventListener("keydown", e => {
  if (!(e.ctrlKey || e.metaKey) || e.target.matches("input, textarea")) return;
  if (e.key.toLowerCase() === "z") { e.shiftKey ? editor.redo() : editor.undo(); e.preventDefault(); }
  else if (e.key.toLowerCase() === "y") { editor.redo(); e.preventDefault(); }
});
$("preset").onchange = () => {
  const p = presets.find(x => x.name === $("preset").value);
  if (!p) return;
  clearErrors();
  const pts = p.points.map(([x, y]) => [x, y]);
  $("presetAppend").checked ? editor.append([pts]) : editor.load([pts]);
  $("preset").value = "";
};
$("importFile").onchange = async () => {
  const file = $("importFile").files[0];
  if (!file) return;
  clearErrors();
  try {
    const text = await file.text();
    editor.load(/\.json$/i.test(file.name) || text.trimStart().startsWith("{") || text.trimStart().startsWith("[") ? parseJson(text) : parseTxt(text));
  } catch (e) { $("trajectoryError").textContent = `${file.name}: ${e.message}`; }
  $("importFile").value = "";
};
function save(name, text, type) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type })); a.download = name;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
$("exportJson").onclick = () => save("trajectories.json", JSON.stringify({ trajectories: editor.request() }, null, 1), "application/json");
$("exportTxt").onclick = () => {
  const list = editor.request();
  if (!list.length) { $("trajectoryError").textContent = "Nothing to export: draw a trajectory first."; return; }
  // The original format holds one trajectory per file: the selected one (or the first).
  const t = editor.trajectories[editor.active]?.points.length ? editor.trajectories[editor.active] : list[0];
  save("trajectory.txt", toTxt(t.points), "text/plain");
};

// --- first frame image (drag and drop or file picker) → image-to-video --------------------------------------------
async function setImage(file) {
  $("imageError").textContent = "";
  if (!file) return;
  if (!/^image\/(png|jpeg|webp)$/.test(file.type)) { $("imageError").textContent = `${file.name}: use a PNG, JPEG or WebP image`; return; }
  image = await new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = () => fail(r.error); r.readAsDataURL(file); });
  const img = new Image();
  img.onload = () => { editor.background = img; editor.draw(); };
  img.src = image;
  $("imageInfo").textContent = `First frame: ${file.name} (image-to-video)`;
  $("removeImage").hidden = false;
  updateModelInfo();
}
$("imageFile").onchange = () => setImage($("imageFile").files[0]);
$("removeImage").onclick = () => { image = null; editor.background = null; editor.draw(); $("removeImage").hidden = true; $("imageInfo").textContent = "Or drop an image on the canvas (image-to-video)."; $("imageFile").value = ""; };
const wrap = $("canvasWrap");
wrap.addEventListener("dragover", e => { e.preventDefault(); $("dropHint").hidden = false; });
wrap.addEventListener("dragleave", () => { $("dropHint").hidden = true; });
wrap.addEventListener("drop", e => { e.preventDefault(); $("dropHint").hidden = true; setImage(e.dataTransfer.files[0]); });

// --- model ---------------------------------------------------------------------------------------------------------
const model = () => models.find(m => m.id === $("model").value);
function updateModelInfo() {
  const m = model();
  if (!m) return;
  $("canvas").style.aspectRatio = `${m.defaults.width} / ${m.defaults.height}`;
  $("steps").max = String(m.limits.max_steps);
  $("steps").placeholder = String(m.defaults.steps); $("guidance").placeholder = String(m.defaults.guidance_scale);
  $("modelStatus").textContent = `${m.defaults.num_frames} frames at ${m.defaults.width}×${m.defaults.height}, ${m.defaults.fps} fps; workers: ${m.workers.status} (${m.workers.detail})`
    + (image && !m.limits.accepts_first_frame ? " — this model does not take a first frame." : "");
  editor.draw();
}
$("model").onchange = () => { localStorage.setItem("tora-model", $("model").value); updateModelInfo(); };

// --- preview -------------------------------------------------------------------------------------------------------
$("previewButton").onclick = async () => {
  clearErrors();
  const trajectories = editor.request();
  if (!trajectories.length && !flowVideo) { $("trajectoryError").textContent = "Draw a trajectory or pick a preset first."; return; }
  const flow = $("previewFlow").checked;
  const body = { model: $("model").value, mode: flow ? "flow" : "paths" };
  if (!flowVideo) body.trajectories = trajectories;
  if (image && !flow) body.image = image;
  // With a flow video chosen, the preview shows that video (over the first frame unless "as flow").
  let request = { json: body };
  if (flowVideo) {
    const form = new FormData();
    form.append("request", JSON.stringify(body));
    form.append("flow_video", flowVideo, flowVideo.name || "flow.mp4");
    request = { body: form };
  }
  $("previewButton").disabled = true;
  try {
    const p = await getJson("/v1/trajectories/preview", { method: "POST", ...request });
    showVideo(p.video, `Motion preview (${p.mode}): ${p.num_frames} frames at ${p.width}×${p.height}`
      + (p.max_flow_norm == null ? ", uploaded flow video." : `, largest step ${p.max_flow_norm} px.`), null);
  } catch (e) { showProblem(e); }
  finally { $("previewButton").disabled = false; }
};
function showVideo(src, caption, download) {
  const v = $("video");
  v.src = src; $("player").hidden = false; $("player").dataset.kind = download ? "result" : "preview";
  $("videoCaption").textContent = caption;
  $("download").hidden = !download;
  if (download) { $("download").href = src; $("download").download = download; }
  v.play().catch(() => { /* autoplay refused: the controls are there */ });
}

// --- generate, watch (SSE, else polling), cancel ---------------------------------------------------------------------
$("dice").onclick = () => { $("seed").value = String(Math.floor(Math.random() * 2 ** 31)); };
function generationRequest() {
  const body = { model: $("model").value, prompt: $("prompt").value };
  if ($("negative").value.trim()) body.negative_prompt = $("negative").value;
  const trajectories = editor.request();
  if (trajectories.length) body.trajectories = trajectories;
  const num = (id, name) => { const v = $(id).value.trim(); if (v !== "") body[name] = Number(v); };
  num("seed", "seed"); num("steps", "steps"); num("guidance", "guidance_scale");
  const motion = {};
  for (const [id, name] of [["motionStrength", "strength"], ["motionStart", "start"], ["motionEnd", "end"]]) {
    const v = $(id).value.trim();
    if (v !== "") motion[name] = Number(v);
  }
  if (Object.keys(motion).length) body.motion = motion;
  if (flowVideo) delete body.trajectories; // the flow video replaces them as the motion input
  if (image) body.image = image;
  return body;
}
/** The create request as a body: JSON, or multipart with the flow video (and the image as a file part). */
async function generationBody() {
  const body = generationRequest();
  if (!flowVideo) return { json: body };
  const form = new FormData();
  const img = body.image;
  delete body.image;
  form.append("request", JSON.stringify(body));
  if (img) form.append("image", await (await fetch(img)).blob(), "first-frame");
  form.append("flow_video", flowVideo, flowVideo.name || "flow.mp4");
  return { body: form };
}
$("flowFile").onchange = () => {
  const file = $("flowFile").files[0];
  if (!file) return;
  flowVideo = file;
  $("flowInfo").textContent = `Flow video: ${file.name} (replaces the trajectories as the motion input)`;
  $("removeFlow").hidden = false;
};
$("removeFlow").onclick = () => {
  flowVideo = null; $("flowFile").value = ""; $("removeFlow").hidden = true;
  $("flowInfo").textContent = "An MP4 of flow images at the model's size and frame count replaces the trajectories.";
};
$("generateForm").onsubmit = async e => {
  e.preventDefault();
  clearErrors();
  $("generate").disabled = true;
  try {
    const g = await getJson("/v1/generations", { method: "POST", ...(await generationBody()) });
    watch(g);
    refreshHistory();
  } catch (err) { showProblem(err); }
  finally { $("generate").disabled = false; }
};

const TERMINAL = new Set(["succeeded", "failed", "canceled", "cancelled", "expired"]);
function render(g) {
  current = g;
  const p = g.progress ?? {};
  $("progress").value = g.status === "succeeded" ? 100 : Math.max(0, Math.min(100, p.percent ?? 0));
  let text = `${g.status}`;
  if (g.status === "queued") text = `Queued${g.queue_position != null ? `: position ${g.queue_position}` : ""}`;
  if (g.status === "running") text = `Running: ${Math.round(p.percent ?? 0)} %`;
  if (g.status === "succeeded") text = "Done: 100 %";
  if (g.status === "canceled" || g.status === "cancelled") text = "Canceled";
  if (g.error) text += ` — ${g.error.code}: ${g.error.message}`;
  $("status").textContent = text;
  $("status").className = `status-${g.status}`;
  const detail = [];
  if (p.phase) detail.push(p.phase);
  if (p.total_steps) detail.push(`step ${p.step} of ${p.total_steps}`);
  if (p.eta_seconds != null && !TERMINAL.has(g.status)) detail.push(`about ${Math.ceil(p.eta_seconds)} s left`);
  $("progressDetail").textContent = detail.join(" · ");
  $("cancel").hidden = TERMINAL.has(g.status);
}
async function finish(g) {
  render(g);
  refreshHistory();
  if (g.status === "succeeded" && g.urls?.video) {
    if (videoUrl) URL.revokeObjectURL(videoUrl);
    videoUrl = await objectUrl(g.urls.video);
    showVideo(videoUrl, `Generation ${g.id}: “${(g.input?.prompt ?? "").slice(0, 80)}”`, `tora-${g.id}.mp4`);
  }
}
const sleep = (ms, signal) => new Promise(ok => { const t = setTimeout(ok, ms); signal.addEventListener("abort", () => { clearTimeout(t); ok(); }); });
/**
 * Follows a generation: the SSE stream GET /v1/generations/{id}/events when the API has it (events 'status',
 * 'progress', 'queue'; reconnecting after the server's retry delay with Last-Event-ID, so nothing is missed or
 * repeated), else polling GET /v1/generations/{id}.
 */
function watch(g) {
  if (watcher) watcher.abort();
  const ctl = new AbortController(); watcher = ctl;
  render(g);
  (async () => {
    try {
      if (TERMINAL.has(g.status)) return finish(g);
      let sse = true, lastId = null, failures = 0;
      while (!ctl.signal.aborted) {
        if (sse) {
          const r = await followEvents(g.id, lastId, ctl.signal).catch(() => ({ dropped: true }));
          if (ctl.signal.aborted) return;
          if (r.unsupported) { sse = false; continue; }
          if (r.terminal) return finish(await getJson(`/v1/generations/${g.id}`, { signal: ctl.signal }));
          lastId = r.lastId ?? lastId;
          if (r.dropped && ++failures > 3) sse = false; // a stream that keeps failing: poll instead
          await sleep(r.retry ?? 2000, ctl.signal);
          continue;
        }
        const now = await getJson(`/v1/generations/${g.id}`, { signal: ctl.signal });
        if (TERMINAL.has(now.status)) return finish(now);
        render(now);
        await sleep(now.status === "queued" ? 1000 : 500, ctl.signal);
      }
    } catch (e) { if (!ctl.signal.aborted) showProblem(e, $("banner")); }
  })();
}
/** Reads the event stream until it ends; unsupported when the API answers without one (no such endpoint yet). */
async function followEvents(id, lastId, signal) {
  const headers = { Authorization: `Bearer ${key()}`, Accept: "text/event-stream" };
  if (lastId) headers["Last-Event-ID"] = lastId;
  const r = await fetch(`/v1/generations/${id}/events`, { headers, signal });
  if (!r.ok || !(r.headers.get("content-type") ?? "").startsWith("text/event-stream")) return { unsupported: true };
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "", event = { data: [] }, retry;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { lastId, retry };
    buffer += value;
    let nl;
    while ((nl = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, nl); buffer = buffer.slice(nl + (buffer[nl] === "\r" ? 2 : 1));
      if (line === "") {
        if (event.data.length && onEvent(event.type ?? "message", event.data.join("\n"))) {
          reader.cancel().catch(() => {});
          return { terminal: true, lastId };
        }
        event = { data: [] };
        continue;
      }
      if (line.startsWith(":")) continue; // heartbeat comment
      const i = line.indexOf(":"); const f = i < 0 ? line : line.slice(0, i); let v = i < 0 ? "" : line.slice(i + 1);
      if (v.startsWith(" ")) v = v.slice(1);
      if (f === "data") event.data.push(v);
      else if (f === "event") event.type = v;
      else if (f === "id") lastId = v;
      else if (f === "retry" && /^\d+$/.test(v)) retry = Number(v);
    }
  }
}
/** Applies one event ('status', 'progress', 'queue', or a whole generation); true when it is terminal. */
function onEvent(type, data) {
  let d; try { d = JSON.parse(data); } catch { return false; }
  if (d.object === "generation") { render({ ...current, ...d }); return TERMINAL.has(d.status); }
  const merged = { ...current, progress: { ...(current?.progress ?? {}) } };
  if (d.status) merged.status = d.status;
  for (const k of ["phase", "step", "total_steps", "percent", "eta_seconds"]) if (d[k] !== undefined) merged.progress[k] = d[k];
  if (d.percent === undefined && d.step != null && d.total_steps) merged.progress.percent = 100 * d.step / d.total_steps;
  if (d.queue_position !== undefined) merged.queue_position = d.queue_position;
  if (d.error) merged.error = d.error;
  render(merged);
  return TERMINAL.has(merged.status);
}
$("cancel").onclick = async () => {
  if (!current) return;
  const id = current.id;
  $("cancel").disabled = true;
  if (watcher) watcher.abort();
  try {
    try {
      await api(`/v1/generations/${id}/cancel`, { method: "POST" });
      finish(await getJson(`/v1/generations/${id}`));
    } catch (e) {
      if (!(e instanceof ApiError) || ![404, 405].includes(e.status)) throw e;
      // An API without the cancel endpoint: a queued generation is cancelled by deleting it.
      await api(`/v1/generations/${id}`, { method: "DELETE" });
      render({ ...current, status: "canceled", queue_position: null });
      refreshHistory();
    }
  } catch (e) { showProblem(e, $("banner")); watch(current); }
  finally { $("cancel").disabled = false; }
};

// --- history -----------------------------------------------------------------------------------------------------------
const thumbs = new Map();
async function refreshHistory() {
  if (!key()) return;
  try {
    const page = await getJson("/v1/generations?limit=24");
    $("history").replaceChildren(...page.data.map(g => {
      const li = document.createElement("li");
      const b = document.createElement("button"); b.type = "button";
      b.setAttribute("aria-label", `Show generation ${g.status}: ${g.input?.prompt ?? ""}`);
      const img = document.createElement("img"); img.alt = ""; img.className = "thumb";
      if (g.urls?.thumbnail && g.status === "succeeded") {
        if (thumbs.has(g.id)) img.src = thumbs.get(g.id);
        else objectUrl(g.urls.thumbnail).then(u => { thumbs.set(g.id, u); img.src = u; }).catch(() => {});
      }
      const st = document.createElement("div"); st.className = `status-${g.status}`;
      st.textContent = `${g.status} · ${new Date(g.created_at).toLocaleString()}`;
      const pr = document.createElement("div"); pr.className = "prompt"; pr.textContent = g.input?.prompt ?? "";
      b.append(img, st, pr);
      b.onclick = () => watch(g);
      li.append(b);
      return li;
    }));
  } catch (e) { showProblem(e, $("banner")); }
}
$("refresh").onclick = refreshHistory;

// --- start ---------------------------------------------------------------------------------------------------------------
$("key").value = key();
$("keyForm").onsubmit = e => { e.preventDefault(); localStorage.setItem(KEY, $("key").value.trim()); init(); };
async function init() {
  clearErrors();
  if (!key()) { $("banner").textContent = "Enter your API key first (run.sh prints one)."; $("key").focus(); return; }
  try {
    models = (await getJson("/v1/models")).data;
    $("model").replaceChildren(...models.map(m => new Option(m.id, m.id)));
    const saved = localStorage.getItem("tora-model");
    if (saved && models.some(m => m.id === saved)) $("model").value = saved;
    updateModelInfo();
    presets = (await getJson("/v1/trajectories/presets")).data;
    $("preset").replaceChildren(new Option("choose…", ""), ...presets.map(p => new Option(p.name, p.name)));
    document.body.dataset.ready = "true";
    await refreshHistory();
  } catch (e) { showProblem(e, $("banner")); }
}
renderTrajectories();
init();
