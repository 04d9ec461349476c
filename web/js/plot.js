// plot.js - a small time-series plot on a canvas: lines, steps and dots
// over the last N seconds, with a light grid. Enough for the diagnostics page,
// and nothing to download.

const GRID = 'rgba(255, 255, 255, 0.07)';
const LABEL = 'rgba(185, 192, 212, 0.75)';

/** A "nice" upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten. */
export function niceCeil(x) {
	if (!(x > 0)) return 1;
	const p = 10 ** Math.floor(Math.log10(x));
	for (const m of [1, 2, 2.5, 5, 10]) if (x <= m * p) return m * p;
	return 10 * p;
}

export class TimePlot {
	/**
	 * series: [{color, style: 'line' | 'step' | 'dots', dash, width}];
	 * windowS: seconds shown; minMax: the y axis reaches at least this;
	 * unit: appended to the axis labels; refs: [{y, color}] horizontal lines.
	 */
	constructor(canvas, { series, windowS = 60, minMax = 100, unit = 'ms', refs = [] }) {
		this.canvas = canvas;
		this.series = series.map((s) => ({ ...s, points: [] }));
		this.windowS = windowS;
		this.minMax = minMax;
		this.unit = unit;
		this.refs = refs;
	}

	/** Adds a point (t in seconds, any monotonic clock) to series i. */
	add(i, t, y) {
		if (y === null || y === undefined || !Number.isFinite(y)) return;
		const pts = this.series[i].points;
		pts.push(t, y);
		// Keep a little more than the window; drop the rest in one go.
		if (pts.length > 4096 && pts[0] < t - this.windowS * 1.5) {
			let k = 0;
			while (k < pts.length && pts[k] < t - this.windowS) k += 2;
			pts.splice(0, k);
		}
	}

	draw(now) {
		const c = this.canvas;
		const dpr = globalThis.devicePixelRatio || 1;
		const w = Math.max(1, Math.round(c.clientWidth * dpr));
		const h = Math.max(1, Math.round(c.clientHeight * dpr));
		if (c.width !== w || c.height !== h) {
			c.width = w;
			c.height = h;
		}
		const g = c.getContext('2d');
		g.clearRect(0, 0, w, h);
		const t0 = now - this.windowS;
		let max = this.minMax;
		for (const s of this.series) {
			const p = s.points;
			for (let k = 0; k < p.length; k += 2) if (p[k] >= t0 && p[k + 1] > max) max = p[k + 1];
		}
		for (const r of this.refs) max = Math.max(max, r.y * 1.1);
		max = niceCeil(max);

		g.font = `${11 * dpr}px system-ui, sans-serif`;
		// Room on the left for the widest label, the unit on the top one.
		const label = (i) => `${+((max * i) / 4).toFixed(1)}${i === 4 ? ` ${this.unit}` : ''}`;
		const left = Math.ceil(g.measureText(label(4)).width) + 12 * dpr;
		const right = 14 * dpr, top = 8 * dpr, bottom = 18 * dpr;
		const pw = w - left - right, ph = h - top - bottom;
		const X = (t) => left + ((t - t0) / this.windowS) * pw;
		const Y = (v) => top + ph - (Math.min(v, max) / max) * ph;

		g.textBaseline = 'middle';
		g.lineWidth = 1 * dpr;
		for (let i = 0; i <= 4; i++) {
			const v = (max * i) / 4;
			const y = Math.round(Y(v)) + 0.5;
			g.strokeStyle = GRID;
			g.beginPath();
			g.moveTo(left, y);
			g.lineTo(w - right, y);
			g.stroke();
			g.fillStyle = LABEL;
			g.textAlign = 'right';
			g.fillText(label(i), left - 6 * dpr, y);
		}
		g.textAlign = 'center';
		g.textBaseline = 'alphabetic';
		for (let s = 0; s <= this.windowS; s += this.windowS / 4) {
			g.fillText(s === this.windowS ? 'now' : `−${this.windowS - s} s`, X(t0 + s), h - 4 * dpr);
		}
		for (const r of this.refs) {
			g.strokeStyle = r.color;
			g.setLineDash([4 * dpr, 4 * dpr]);
			g.beginPath();
			g.moveTo(left, Y(r.y));
			g.lineTo(w - right, Y(r.y));
			g.stroke();
			g.setLineDash([]);
		}

		g.save();
		g.beginPath();
		g.rect(left, top - 2 * dpr, pw, ph + 4 * dpr);
		g.clip();
		for (const s of this.series) {
			const p = s.points;
			let k = 0;
			while (k < p.length - 2 && p[k + 2] < t0) k += 2;
			g.strokeStyle = g.fillStyle = s.color;
			g.lineWidth = (s.width ?? 1.6) * dpr;
			g.setLineDash(s.dash ? s.dash.map((d) => d * dpr) : []);
			if (s.style === 'dots') {
				const r = (s.radius ?? 2.2) * dpr;
				for (; k < p.length; k += 2) {
					g.beginPath();
					g.arc(X(p[k]), Y(p[k + 1]), r, 0, 2 * Math.PI);
					g.fill();
				}
				continue;
			}
			g.beginPath();
			let first = true, lastY = 0;
			for (; k < p.length; k += 2) {
				const x = X(p[k]), y = Y(p[k + 1]);
				if (first) g.moveTo(x, y);
				else if (s.style === 'step') {
					g.lineTo(x, lastY);
					g.lineTo(x, y);
				} else g.lineTo(x, y);
				first = false;
				lastY = y;
			}
			// A step holds its last value up to now.
			if (!first && s.style === 'step') g.lineTo(X(now), lastY);
			g.stroke();
		}
		g.restore();
		g.setLineDash([]);
	}
}
