#!/usr/bin/env node
// tests/cli/promparse.mjs - a strict checker of the Prometheus text
// exposition format, version 0.0.4, for tests/cli/stat.bats.
//
//   node tests/cli/promparse.mjs [FILE]      (standard input without FILE)
//
// Prints a JSON summary ({"families":{name:type},"samples":N,"series":{...}})
// on standard output and exits 0 when the text is valid; otherwise prints
// "promparse: line N: what is wrong" for every error and exits 1.
//
// It checks what a scraper relies on, more strictly than Prometheus itself:
//  - valid UTF-8, lines ending in \n, no blank lines;
//  - comments: "# HELP name text" (escapes \\ and \n only) and
//    "# TYPE name counter|gauge|histogram|summary|untyped", each at most once
//    per family and before its samples; any other "# ..." line is a comment;
//  - samples: name{label="value",...} value [timestamp] with the metric and
//    label name grammar, no "__" label names, no repeated label, label
//    values escaped (\\, \", \n only), Go-style floats (NaN, +Inf, -Inf);
//  - every sample belongs to a family with a TYPE declared before it, and a
//    family's samples are contiguous;
//  - counters are not negative; no series appears twice;
//  - histograms: for each series, buckets with a numeric le in increasing
//    order, cumulative (never decreasing) integer counts, the last one
//    le="+Inf" and equal to _count, and a _sum.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parse(bytes) {
	const errors = [];
	let text;
	try {
		text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		return { errors: ['line 0: not valid UTF-8'] };
	}
	if (text.length && !text.endsWith('\n')) errors.push('line 0: the last line does not end in a newline');
	const lines = text.split('\n');
	lines.pop();

	const families = new Map();     // name -> { type, help, samplesSeen, closed }
	const series = new Set();
	const hist = new Map();         // family -> Map(labelKey -> { buckets: [[le, v]], sum, count })
	let current = null;             // the family whose samples came last
	let samples = 0;

	const family = (name) => {
		if (!families.has(name)) families.set(name, { type: null, help: null, samples: 0, closed: false });
		return families.get(name);
	};

	lines.forEach((line, i) => {
		const where = `line ${i + 1}`;
		const err = (m) => errors.push(`${where}: ${m}`);
		if (line === '') return err('blank line');
		if (line.startsWith('#')) {
			const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
			if (!m) {
				if (/^#\s*(HELP|TYPE)\b/.test(line)) err(`malformed ${line.slice(0, 20)} line`);
				return;         // an ordinary comment
			}
			const [, kind, name, rest = ''] = m;
			if (!METRIC.test(name)) return err(`bad metric name '${name}'`);
			const f = family(name);
			if (f.samples) return err(`${kind} for ${name} after its samples`);
			if (kind === 'HELP') {
				if (f.help !== null) return err(`second HELP for ${name}`);
				if (/\\[^\\n]|\\$/.test(rest.replace(/\\\\/g, ''))) return err(`bad escape in HELP of ${name}`);
				f.help = rest;
			} else {
				if (f.type !== null) return err(`second TYPE for ${name}`);
				if (!TYPES.has(rest)) return err(`unknown type '${rest}' for ${name}`);
				f.type = rest;
			}
			return;
		}
		const s = sample(line, err);
		if (!s) return;
		samples++;
		// The family: the name itself, or a histogram's or summary's base name.
		let fname = s.name, suffix = '';
		if (!families.get(fname)?.type) {
			const m = /^(.*)_(bucket|sum|count)$/.exec(s.name);
			const base = m && families.get(m[1]);
			if (base && (base.type === 'histogram' || (base.type === 'summary' && m[2] !== 'bucket'))) {
				fname = m[1];
				suffix = m[2];
			}
		}
		const f = families.get(fname);
		if (!f || !f.type) return err(`sample ${s.name} has no TYPE declared before it`);
		if (f.closed) return err(`samples of ${fname} are not together`);
		if (current && current !== fname) families.get(current).closed = true;
		current = fname;
		f.samples++;
		const key = s.name + '{' + [...s.labels.entries()].sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',') + '}';
		if (series.has(key)) err(`series ${key} appears twice`);
		series.add(key);
		if (f.type === 'counter' && !(s.value >= 0)) err(`counter ${s.name} is ${s.raw}`);
		if (f.type === 'histogram') {
			if (!suffix) return err(`histogram ${fname} has a sample without _bucket, _sum or _count`);
			const labels = new Map(s.labels);
			labels.delete('le');
			const lk = [...labels.entries()].sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
			if (!hist.has(fname)) hist.set(fname, new Map());
			const h = hist.get(fname);
			if (!h.has(lk)) h.set(lk, { buckets: [], sum: null, count: null, line: i + 1 });
			const e = h.get(lk);
			if (suffix === 'bucket') {
				if (!s.labels.has('le')) return err(`${s.name} without le`);
				const le = s.labels.get('le');
				if (!FLOAT.test(le) || le === 'NaN') return err(`${s.name} le="${le}" is not a number`);
				if (!Number.isInteger(s.value) || s.value < 0) err(`${s.name} count ${s.raw} is not a whole number`);
				e.buckets.push([parseLe(le), s.value, le]);
			} else {
				if (s.labels.has('le')) err(`${s.name} has an le label`);
				e[suffix] = s.value;
			}
		}
	});
	for (const [name, h] of hist) {
		for (const [lk, e] of h) {
			const where = `line ${e.line}: histogram ${name}{${lk}}`;
			const b = e.buckets;
			if (!b.length) { errors.push(`${where}: no buckets`); continue; }
			for (let k = 1; k < b.length; k++) {
				if (!(b[k][0] > b[k - 1][0])) errors.push(`${where}: le="${b[k][2]}" does not increase`);
				if (b[k][1] < b[k - 1][1]) errors.push(`${where}: bucket le="${b[k][2]}" is not cumulative`);
			}
			if (b[b.length - 1][0] !== Infinity) errors.push(`${where}: the last bucket is not le="+Inf"`);
			if (e.count === null) errors.push(`${where}: no _count`);
			else if (b[b.length - 1][1] !== e.count) errors.push(`${where}: +Inf bucket ${b[b.length - 1][1]} != _count ${e.count}`);
			if (e.sum === null) errors.push(`${where}: no _sum`);
		}
	}
	const types = Object.fromEntries([...families].filter(([, f]) => f.type).map(([n, f]) => [n, f.type]));
	return { errors, families: types, samples, series: [...series] };
}

function parseLe(le) {
	if (le === '+Inf' || le === 'Inf') return Infinity;
	if (le === '-Inf') return -Infinity;
	return Number(le);
}

// name{labels} value [timestamp]
function sample(line, err) {
	const m = /^([^\s{]+)/.exec(line);
	if (!m || !METRIC.test(m[1])) return err(`bad metric name in '${line.slice(0, 40)}'`), null;
	const name = m[1];
	let p = name.length;
	const labels = new Map();
	if (line[p] === '{') {
		p++;
		if (line[p] === '}') return err(`empty label set on ${name}`), null;
		for (;;) {
			const lm = /^([^=]*)="/.exec(line.slice(p));
			if (!lm) return err(`bad label on ${name}`), null;
			const lname = lm[1];
			if (!LABEL.test(lname)) return err(`bad label name '${lname}' on ${name}`), null;
			if (lname.startsWith('__')) return err(`reserved label name '${lname}' on ${name}`), null;
			if (labels.has(lname)) return err(`label ${lname} twice on ${name}`), null;
			p += lm[0].length;
			let v = '';
			for (;;) {
				const c = line[p];
				if (c === undefined) return err(`unterminated label value on ${name}`), null;
				if (c === '"') { p++; break; }
				if (c === '\\') {
					const e = line[p + 1];
					if (e === '\\') v += '\\';
					else if (e === '"') v += '"';
					else if (e === 'n') v += '\n';
					else return err(`bad escape \\${e ?? ''} in a label value on ${name}`), null;
					p += 2;
					continue;
				}
				v += c;
				p++;
			}
			labels.set(lname, v);
			if (line[p] === ',') {
				p++;
				if (line[p] === '}') return err(`trailing comma in the labels of ${name}`), null;
				continue;
			}
			if (line[p] === '}') { p++; break; }
			return err(`expected , or } in the labels of ${name}`), null;
		}
	}
	const rest = line.slice(p);
	const vm = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
	if (!vm) return err(`expected ' value [timestamp]' after ${name}, not '${rest}'`), null;
	if (!FLOAT.test(vm[1])) return err(`bad value '${vm[1]}' of ${name}`), null;
	const value = vm[1].endsWith('Inf') ? (vm[1].startsWith('-') ? -Infinity : Infinity) : Number(vm[1]);
	return { name, labels, value, raw: vm[1] };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
	const input = readFileSync(process.argv[2] ?? 0);
	const r = parse(input);
	if (r.errors.length) {
		for (const e of r.errors) console.error(`promparse: ${e}`);
		process.exit(1);
	}
	console.log(JSON.stringify({ families: r.families, samples: r.samples, series: r.series }));
}
