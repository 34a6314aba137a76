// A small line chart on a <canvas>: scores 0–1 drawn as 0–100 over time.
//
// Series differ by colour AND dash pattern, so they stay distinguishable without colour.

export const SERIES = [
  { key: "stress_level", label: "Stress", color: "#b3261e", dash: [] },
  { key: "attention_score", label: "Attention", color: "#0b57d0", dash: [8, 4] },
  { key: "overall_score", label: "Overall", color: "#146c2e", dash: [2, 3] },
];

const AXIS = "#5f6368";
const GRID = "#e3e3e3";
const TEXT = "#3c4043";

/**
 * Draw `points` ([{x: number (ms since epoch), stress_level, attention_score, overall_score}])
 * between xMin and xMax. `formatX(ms)` labels the time axis. Missing values leave gaps.
 */
export function drawChart(canvas, points, { xMin, xMax, formatX, emptyText = "No data yet" }) {
  // Size the backing store to the element's CSS size times the pixel ratio: crisp on phones.
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(200, canvas.clientWidth);
  const height = Math.max(120, canvas.clientHeight);
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = "12px system-ui, sans-serif";

  const left = 34;
  const right = 10;
  const top = 8;
  const bottom = 22;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const yOf = (v) => top + plotH * (1 - v);

  // Grid and y labels: 0, 25, 50, 75, 100.
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 4; i += 1) {
    const y = Math.round(yOf(i / 4)) + 0.5;
    ctx.strokeStyle = i === 0 ? AXIS : GRID;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + plotW, y);
    ctx.stroke();
    ctx.fillStyle = TEXT;
    ctx.fillText(String(i * 25), left - 6, y);
  }

  if (!points.length || !(xMax > xMin)) {
    ctx.textAlign = "center";
    ctx.fillText(emptyText, left + plotW / 2, top + plotH / 2);
    return;
  }
  const xOf = (x) => left + (plotW * (x - xMin)) / (xMax - xMin);

  // Time labels at both ends, and in the middle when three fit without overlapping.
  ctx.textBaseline = "top";
  ctx.fillStyle = TEXT;
  const labels = [formatX(xMin), formatX((xMin + xMax) / 2), formatX(xMax)];
  const widest = Math.max(...labels.map((text) => ctx.measureText(text).width));
  ctx.textAlign = "left";
  ctx.fillText(labels[0], left, top + plotH + 6);
  if (plotW > 3 * widest + 24) {
    ctx.textAlign = "center";
    ctx.fillText(labels[1], left + plotW / 2, top + plotH + 6);
  }
  if (plotW > 2 * widest + 12) {
    ctx.textAlign = "right";
    ctx.fillText(labels[2], left + plotW, top + plotH + 6);
  }

  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top - 2, plotW, plotH + 4);
  ctx.clip();
  ctx.lineWidth = 2;
  ctx.lineJoin = "round";
  for (const series of SERIES) {
    ctx.strokeStyle = series.color;
    ctx.fillStyle = series.color;
    ctx.setLineDash(series.dash);
    ctx.beginPath();
    let drawing = false;
    let lonely = [];
    for (let i = 0; i < points.length; i += 1) {
      const value = points[i][series.key];
      if (value === null || value === undefined) {
        drawing = false;
        continue;
      }
      const x = xOf(points[i].x);
      const y = yOf(value);
      if (drawing) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      // A value with no neighbour would be invisible as a line: mark it with a dot.
      const prev = points[i - 1] && points[i - 1][series.key];
      const next = points[i + 1] && points[i + 1][series.key];
      if ((prev === null || prev === undefined) && (next === null || next === undefined)) {
        lonely.push([x, y]);
      }
      drawing = true;
    }
    ctx.stroke();
    ctx.setLineDash([]);
    for (const [x, y] of lonely) {
      ctx.beginPath();
      ctx.arc(x, y, 3, 0, 2 * Math.PI);
      ctx.fill();
    }
    lonely = [];
  }
  ctx.restore();
}

/** "42" for 0.42, "—" for null: the number shown for a 0–1 score. */
export function pct(value) {
  return value === null || value === undefined ? "—" : String(Math.round(value * 100));
}
