/**
 * Line charts drawn on a canvas. Colours come from CSS custom properties, so the charts follow the light or
 * dark theme. The canvas gets an `aria-label` summary; the numbers are also shown as text next to it.
 */

/**
 * @typedef {{ label: string, colorVar: string, values: Array<number | null>, dashed?: boolean, width?: number }} Series
 * @typedef {{ times: number[], series: Series[], unit: string, minMax?: number }} ChartData
 */

function cssVar(el, name, fallback) {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v || fallback;
}

/** The smallest axis maximum at or above `max` whose four ticks are round: steps of 1, 2, 2.5 or 5 × 10^k. */
export function niceMax(max) {
  if (!(max > 0)) return 1;
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return 4 * m * p;
  return 40 * p;
}

function label(value, unit) {
  const v = value >= 100 || Number.isInteger(value) ? String(Math.round(value)) : value.toFixed(1);
  return unit ? `${v} ${unit}` : v;
}

function clock(t) {
  return new Date(t * 1000).toLocaleTimeString(undefined, {
    hour12: false,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/**
 * Draws a chart into `canvas`, sized to its CSS box.
 * @param {HTMLCanvasElement} canvas
 * @param {ChartData} data
 */
export function drawChart(canvas, data) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 180;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const text = cssVar(canvas, '--muted', '#666');
  const grid = cssVar(canvas, '--grid', '#ddd');
  const font = `12px ${cssVar(document.body, 'font-family', 'system-ui') || 'system-ui'}`;
  const pad = { left: 56, right: 12, top: 10, bottom: 24 };
  const w = width - pad.left - pad.right;
  const hgt = height - pad.top - pad.bottom;
  const n = data.times.length;

  let max = data.minMax ?? 1;
  for (const s of data.series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = niceMax(max);

  ctx.font = font;
  ctx.lineWidth = 1;
  ctx.strokeStyle = grid;
  ctx.fillStyle = text;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const y = pad.top + hgt - (hgt * i) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.left, Math.round(y) + 0.5);
    ctx.lineTo(pad.left + w, Math.round(y) + 0.5);
    ctx.stroke();
    ctx.fillText(label((max * i) / 4, data.unit), pad.left - 6, y);
  }
  if (n > 1) {
    ctx.textBaseline = 'top';
    // A middle time label only where there is room for three.
    const marks = n >= 5 && w >= 360 ? [0, Math.floor((n - 1) / 2), n - 1] : [0, n - 1];
    marks.forEach((idx, k) => {
      ctx.textAlign = k === 0 ? 'left' : k === marks.length - 1 ? 'right' : 'center';
      ctx.fillText(clock(data.times[idx]), pad.left + (w * idx) / (n - 1), pad.top + hgt + 6);
    });
  }

  const x = (i) => pad.left + (n > 1 ? (w * i) / (n - 1) : w);
  const y = (v) => pad.top + hgt - (hgt * v) / max;
  // The first series is also drawn as a faint area, so a series equal to it stays readable on top.
  const area = data.series[0];
  if (area && n > 1) {
    ctx.fillStyle = cssVar(canvas, area.colorVar, '#36c');
    ctx.globalAlpha = 0.14;
    ctx.beginPath();
    ctx.moveTo(x(0), y(0));
    for (let i = 0; i < n; i++) ctx.lineTo(x(i), y(area.values[i] ?? 0));
    ctx.lineTo(x(n - 1), y(0));
    ctx.closePath();
    ctx.fill();
    ctx.globalAlpha = 1;
  }
  // Drawn last to first, so the first series is on top; a wider line underneath stays visible where equal.
  for (const s of [...data.series].reverse()) {
    ctx.strokeStyle = cssVar(canvas, s.colorVar, '#36c');
    ctx.lineWidth = s.width ?? 2;
    ctx.setLineDash(s.dashed ? [5, 4] : []);
    ctx.beginPath();
    let drawing = false;
    s.values.forEach((v, i) => {
      if (v === null) {
        drawing = false;
        return;
      }
      if (drawing) ctx.lineTo(x(i), y(v));
      else ctx.moveTo(x(i), y(v));
      drawing = true;
    });
    ctx.stroke();
    // A value with no neighbour would draw nothing as a line: mark it with a dot.
    ctx.fillStyle = ctx.strokeStyle;
    s.values.forEach((v, i) => {
      if (v === null || (s.values[i - 1] ?? null) !== null || (s.values[i + 1] ?? null) !== null) return;
      ctx.beginPath();
      ctx.arc(x(i), y(v), 3, 0, Math.PI * 2);
      ctx.fill();
    });
  }
  ctx.setLineDash([]);

  const latest = data.series
    .map((s) => {
      const v = [...s.values].reverse().find((x) => x !== null);
      return `${s.label} ${v === undefined ? 'no data' : label(v, data.unit)}`;
    })
    .join(', ');
  const peak = data.series
    .map((s) => {
      const vs = s.values.filter((v) => v !== null);
      return `${s.label} ${vs.length ? label(Math.max(...vs), data.unit) : 'no data'}`;
    })
    .join(', ');
  canvas.setAttribute('aria-label', `Last ${n} seconds. Latest: ${latest}. Peak: ${peak}.`);
}
