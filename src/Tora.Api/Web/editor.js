// Trajectory editor: several trajectories on a canvas at the model's aspect ratio, in the original demo's
// 256 × 256 coordinate space ("canvas256", so presets and .txt files round-trip unchanged), with undo/redo.

/** Distinct colours (Okabe–Ito, readable for colour-blind users), one per trajectory, cycling. */
export const COLOURS = ["#d55e00", "#0072b2", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7a5c00", "#000000"];
const SIZE = 256;          // canvas256: 0 ≤ x, y < 256
const HIT = 9;             // pick radius in CSS pixels

/** A snapshot-based editor model: every edit stores the previous state so undo/redo are exact. */
export class TrajectoryEditor extends EventTarget {
  constructor(canvas) {
    super();
    this.canvas = canvas;
    this.trajectories = [];   // [{ points: [[x, y], …] }] in canvas256
    this.active = -1;         // selected trajectory
    this.selected = -1;       // selected point of the active trajectory
    this.errors = new Map();  // "t/p" → message, from the API
    this.background = null;   // HTMLImageElement of the first frame
    this.aspect = 16 / 9;
    this.undoStack = []; this.redoStack = [];
    this.drag = null;
    canvas.addEventListener("pointerdown", e => this.#down(e));
    canvas.addEventListener("pointermove", e => this.#move(e));
    canvas.addEventListener("pointerup", e => this.#up(e));
    canvas.addEventListener("keydown", e => this.#key(e));
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** The state as plain data (for undo and export). */
  snapshot() { return JSON.stringify({ t: this.trajectories, a: this.active, s: this.selected }); }
  #restore(json) {
    const s = JSON.parse(json);
    this.trajectories = s.t; this.active = s.a; this.selected = s.s;
    this.errors.clear(); this.changed();
  }
  /** Records the current state before an edit. */
  checkpoint() { this.undoStack.push(this.snapshot()); if (this.undoStack.length > 200) this.undoStack.shift(); this.redoStack = []; }
  undo() { if (!this.undoStack.length) return; this.redoStack.push(this.snapshot()); this.#restore(this.undoStack.pop()); }
  redo() { if (!this.redoStack.length) return; this.undoStack.push(this.snapshot()); this.#restore(this.redoStack.pop()); }
  get canUndo() { return this.undoStack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }

  changed() { this.draw(); this.dispatchEvent(new Event("change")); }

  /** Starts a new (empty) trajectory; the next clicks add its points. */
  newTrajectory() {
    this.checkpoint();
    this.trajectories.push({ points: [] });
    this.active = this.trajectories.length - 1; this.selected = -1;
    this.changed();
  }
  deleteTrajectory(t = this.active) {
    if (t < 0 || t >= this.trajectories.length) return;
    this.checkpoint();
    this.trajectories.splice(t, 1);
    this.active = Math.min(t, this.trajectories.length - 1); this.selected = -1;
    this.changed();
  }
  deletePoint(t = this.active, p = this.selected) {
    const tr = this.trajectories[t];
    if (!tr || p < 0 || p >= tr.points.length) return;
    this.checkpoint();
    tr.points.splice(p, 1);
    this.active = t; this.selected = Math.min(p, tr.points.length - 1);
    this.changed();
  }
  clear() { if (!this.trajectories.length) return; this.checkpoint(); this.trajectories = []; this.active = -1; this.selected = -1; this.changed(); }
  select(t, p = -1) { this.active = t; this.selected = p; this.changed(); }
  /** Replaces everything (preset, import) as one undoable edit. */
  load(list) {
    this.checkpoint();
    this.trajectories = list.map(points => ({ points: points.map(([x, y]) => [x, y]) }));
    this.active = this.trajectories.length - 1; this.selected = -1;
    this.changed();
  }
  /** Appends trajectories (a preset added to the current drawing). */
  append(list) {
    this.checkpoint();
    for (const points of list) this.trajectories.push({ points: points.map(([x, y]) => [x, y]) });
    this.active = this.trajectories.length - 1; this.selected = -1;
    this.changed();
  }
  setPoint(t, p, xy) {
    this.checkpoint();
    this.trajectories[t].points[p] = xy.map(v => Math.round(v * 10) / 10);
    this.errors.delete(`${t}/${p}`); // edited: the API's complaint no longer applies to it
    this.changed();
  }
  /** Non-empty trajectories, in request form. */
  request() { return this.trajectories.filter(t => t.points.length).map(t => ({ space: "canvas256", points: t.points })); }
  /** Maps request indexes (empty trajectories skipped) back to editor indexes. */
  requestIndex(i) {
    let n = -1;
    for (let t = 0; t < this.trajectories.length; t++) if (this.trajectories[t].points.length && ++n === i) return t;
    return -1;
  }

  // --- geometry -------------------------------------------------------------------------------------------------
  #css() { const r = this.canvas.getBoundingClientRect(); return { r, w: r.width, h: r.height }; }
  #toCanvas(e) {
    const { r, w, h } = this.#css();
    const x = Math.min(SIZE - 1, Math.max(0, (e.clientX - r.left) / w * SIZE));
    const y = Math.min(SIZE - 1, Math.max(0, (e.clientY - r.top) / h * SIZE));
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }
  #hit(e) {
    const { r, w, h } = this.#css();
    const cx = e.clientX - r.left, cy = e.clientY - r.top;
    let best = null, bestD = HIT;
    this.trajectories.forEach((t, ti) => t.points.forEach(([x, y], pi) => {
      const d = Math.hypot(x / SIZE * w - cx, y / SIZE * h - cy);
      if (d <= bestD) { best = [ti, pi]; bestD = d; }
    }));
    return best;
  }

  // --- pointer: click adds a point to the active trajectory, drag moves a point ------------------------------
  #down(e) {
    if (e.button !== 0) return;
    this.canvas.focus();
    const hit = this.#hit(e);
    if (hit) {
      this.active = hit[0]; this.selected = hit[1];
      this.drag = { before: this.snapshot(), moved: false };
      this.canvas.setPointerCapture(e.pointerId);
      this.changed();
      return;
    }
    this.checkpoint();
    if (this.active < 0 || !this.trajectories[this.active]) { this.trajectories.push({ points: [] }); this.active = this.trajectories.length - 1; }
    const pts = this.trajectories[this.active].points;
    pts.push(this.#toCanvas(e));
    this.selected = pts.length - 1;
    this.changed();
  }
  #move(e) {
    if (!this.drag) { this.canvas.style.cursor = this.#hit(e) ? "grab" : "crosshair"; return; }
    this.trajectories[this.active].points[this.selected] = this.#toCanvas(e);
    this.drag.moved = true;
    this.draw();
  }
  #up() {
    if (!this.drag) return;
    if (this.drag.moved) { this.undoStack.push(this.drag.before); this.redoStack = []; this.errors.clear(); }
    this.drag = null;
    this.changed();
  }

  // --- keyboard: arrows move the selected point, [ ] select, Delete removes, N new trajectory -------------------
  #key(e) {
    const t = this.trajectories[this.active];
    const step = e.shiftKey ? 10 : 1;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key] && t && this.selected >= 0) {
      const [x, y] = t.points[this.selected];
      this.setPoint(this.active, this.selected, [Math.min(SIZE - 1, Math.max(0, x + moves[e.key][0])), Math.min(SIZE - 1, Math.max(0, y + moves[e.key][1]))]);
    } else if ((e.key === "Delete" || e.key === "Backspace") && t && this.selected >= 0) {
      this.deletePoint();
    } else if ((e.key === "]" || e.key === "[") && t && t.points.length) {
      const d = e.key === "]" ? 1 : -1;
      this.select(this.active, (this.selected + d + t.points.length) % t.points.length);
    } else if (e.key === "Enter" && t) {
      // Adds a point next to the selected one (or at the centre), to be moved with the arrows.
      this.checkpoint();
      const base = t.points[this.selected] ?? [SIZE / 2, SIZE / 2];
      t.points.splice(this.selected + 1, 0, [Math.min(SIZE - 1, base[0] + 8), base[1]]);
      this.selected++;
      this.changed();
    } else if (e.key === "n" || e.key === "N") {
      this.newTrajectory();
    } else return;
    e.preventDefault();
  }

  // --- drawing ----------------------------------------------------------------------------------------------------
  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    if (this.background) g.drawImage(this.background, 0, 0, w, h);
    else { g.fillStyle = "#fff"; g.fillRect(0, 0, w, h); }
    // Grid: eighths of the canvas (32 units of the 256 space), a stronger line at the centre.
    for (let i = 1; i < 8; i++) {
      g.strokeStyle = i === 4 ? "rgba(0,0,0,.35)" : "rgba(0,0,0,.13)"; g.lineWidth = 1;
      g.beginPath(); g.moveTo(Math.round(i * w / 8) + .5, 0); g.lineTo(Math.round(i * w / 8) + .5, h);
      g.moveTo(0, Math.round(i * h / 8) + .5); g.lineTo(w, Math.round(i * h / 8) + .5); g.stroke();
    }
    const px = ([x, y]) => [x / SIZE * w, y / SIZE * h];
    this.trajectories.forEach((t, ti) => {
      const colour = COLOURS[ti % COLOURS.length];
      const active = ti === this.active;
      g.strokeStyle = colour; g.lineWidth = active ? 3 : 2; g.lineJoin = "round";
      g.beginPath();
      t.points.forEach((p, i) => { const [x, y] = px(p); i ? g.lineTo(x, y) : g.moveTo(x, y); });
      g.stroke();
      // Direction arrow on the last segment.
      if (t.points.length > 1) {
        const [x1, y1] = px(t.points[t.points.length - 2]), [x2, y2] = px(t.points[t.points.length - 1]);
        const a = Math.atan2(y2 - y1, x2 - x1);
        g.fillStyle = colour; g.beginPath(); g.moveTo(x2, y2);
        g.lineTo(x2 - 11 * Math.cos(a - .45), y2 - 11 * Math.sin(a - .45)); g.lineTo(x2 - 11 * Math.cos(a + .45), y2 - 11 * Math.sin(a + .45)); g.fill();
      }
      t.points.forEach((p, pi) => {
        const [x, y] = px(p);
        const err = this.errors.has(`${ti}/${pi}`);
        const sel = active && pi === this.selected;
        g.beginPath(); g.arc(Math.min(w - 3, Math.max(3, x)), Math.min(h - 3, Math.max(3, y)), err ? 7 : sel ? 6 : pi === 0 ? 5 : 3.5, 0, 2 * Math.PI);
        g.fillStyle = err ? "#b00020" : pi === 0 ? "#fff" : colour; g.fill();
        g.lineWidth = sel || err ? 3 : 1.5; g.strokeStyle = err ? "#ffeb3b" : sel ? "#111" : colour; g.stroke();
      });
    });
  }
}

/** Parses the original repository's .txt format: one "x,y" line per point on the 256 × 256 canvas. */
export function parseTxt(text) {
  const points = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const m = line.trim().split(/\s*,\s*|\s+/).map(Number);
    if (m.length !== 2 || m.some(v => !Number.isFinite(v))) throw new Error(`line ${i + 1} is not "x,y": ${line.slice(0, 40)}`);
    points.push(m);
  });
  if (!points.length) throw new Error("the file has no points");
  return [points];
}

/** Formats one trajectory in the original .txt format (integers, as the original writes them). */
export function toTxt(points) { return points.map(([x, y]) => `${Math.round(x)},${Math.round(y)}`).join("\n") + "\n"; }

/** Parses our JSON: { "trajectories": [{ "space": "canvas256", "points": [[x, y], …] }] } or a bare list. */
export function parseJson(text) {
  const doc = JSON.parse(text);
  const list = Array.isArray(doc) ? doc : doc.trajectories;
  if (!Array.isArray(list)) throw new Error('expected {"trajectories": [...]}');
  return list.map((t, i) => {
    const points = Array.isArray(t) ? t : t.points;
    const space = Array.isArray(t) ? "canvas256" : (t.space ?? "canvas256");
    if (!Array.isArray(points)) throw new Error(`trajectory ${i} has no points`);
    if (space !== "canvas256" && space !== "normalized") throw new Error(`trajectory ${i}: space "${space}" cannot be edited here (use canvas256 or normalized)`);
    const k = space === "normalized" ? SIZE : 1;
    return points.map(p => [Number(p[0]) * k, Number(p[1]) * k]);
  });
}
