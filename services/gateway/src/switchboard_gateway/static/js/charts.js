// A small time-series line chart on a canvas: the last few minutes of one metric.
// No dependencies; redraws at most once per animation frame.

const GRID = "#e5e7eb";
const TEXT = "#4b5563";

export class LineChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{label: string, unit?: string, max?: number, windowMs?: number, color?: string,
   *          format?: (v: number) => string}} options  max: a fixed top (100 for percentages);
   *          without it the top follows the data.
   */
  constructor(canvas, { label, unit = "", max, windowMs = 5 * 60_000, color = "#2563eb",
    format = (v) => `${v.toFixed(v < 10 ? 2 : 1)}${unit}` }) {
    Object.assign(this, { canvas, label, unit, max, windowMs, color, format });
    this.points = []; // [timestampMs, value]
    this._pending = false;
  }

  push(timestamp, value) {
    if (typeof value !== "number" || !Number.isFinite(value)) return;
    this.points.push([timestamp, value]);
    const oldest = timestamp - this.windowMs;
    while (this.points.length && this.points[0][0] < oldest) this.points.shift();
    this.canvas.dataset.points = String(this.points.length);
    this.canvas.dataset.latest = String(value);
    this.schedule();
  }

  schedule() {
    if (this._pending) return;
    this._pending = true;
    const draw = () => {
      this._pending = false;
      this.draw();
    };
    if (globalThis.requestAnimationFrame && document.visibilityState === "visible") {
      requestAnimationFrame(draw);
    } else {
      setTimeout(draw, 0);
    }
  }

  draw() {
    const { canvas } = this;
    const ratio = globalThis.devicePixelRatio || 1;
    const width = canvas.clientWidth || 300;
    const height = canvas.clientHeight || 120;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const left = 44, right = 8, top = 22, bottom = 16;
    const plotW = width - left - right, plotH = height - top - bottom;
    const now = this.points.length ? this.points[this.points.length - 1][0] : Date.now();
    const start = now - this.windowMs;
    const values = this.points.map((p) => p[1]);
    const peak = this.max ?? Math.max(1, ...values) * 1.2;

    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = TEXT;
    ctx.textBaseline = "alphabetic";
    ctx.fillText(this.label, left, 14);
    if (values.length) {
      const latest = this.format(values[values.length - 1]);
      ctx.textAlign = "right";
      ctx.fillStyle = this.color;
      ctx.fillText(latest, width - right, 14);
      ctx.textAlign = "left";
    }

    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    ctx.fillStyle = TEXT;
    ctx.font = "10px system-ui, sans-serif";
    for (let i = 0; i <= 4; i += 1) {
      const y = top + (plotH * i) / 4;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + plotW, y);
      ctx.stroke();
      const value = peak * (1 - i / 4);
      ctx.textAlign = "right";
      ctx.fillText(value >= 100 ? value.toFixed(0) : value.toFixed(1), left - 4, y + 3);
    }
    ctx.textAlign = "left";
    ctx.fillText(`${Math.round(this.windowMs / 60_000)} min`, left, height - 3);

    if (!this.points.length) return;
    const x = (t) => left + ((t - start) / this.windowMs) * plotW;
    const y = (v) => top + plotH - (Math.min(v, peak) / peak) * plotH;
    ctx.beginPath();
    this.points.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
    ctx.strokeStyle = this.color;
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.lineTo(x(now), top + plotH);
    ctx.lineTo(x(this.points[0][0]), top + plotH);
    ctx.closePath();
    ctx.globalAlpha = 0.12;
    ctx.fillStyle = this.color;
    ctx.fill();
    ctx.globalAlpha = 1;
  }
}
