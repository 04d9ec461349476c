// settings.js - what the listener chose (key, mode, tempo, intensity, preset,
// volume): the values the server accepts, the presets' documented values, and
// their life in localStorage across reloads.
//
// Pure data and functions, no DOM: the browser tests import it in Node too.

/** Keys as the composer writes them in its header (docs/composer.md). */
export const KEYS = ['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B'];

/** How a key is shown: with proper accidentals and its enharmonic twin. */
export const KEY_LABELS = {
	C: 'C', 'C#': 'C♯ / D♭', D: 'D', Eb: 'E♭ / D♯', E: 'E', F: 'F',
	'F#': 'F♯ / G♭', G: 'G', Ab: 'A♭ / G♯', A: 'A', Bb: 'B♭ / A♯', B: 'B',
};

/** Short key names for "now playing". */
export const KEY_SHORT = {
	C: 'C', 'C#': 'C♯', D: 'D', Eb: 'E♭', E: 'E', F: 'F',
	'F#': 'F♯', G: 'G', Ab: 'A♭', A: 'A', Bb: 'B♭', B: 'B',
};

// Other spellings the server takes (protocol.md: a letter, any case, and an
// optional # or b), folded to the twelve above so a select can show them.
const ENHARMONIC = { DB: 'C#', 'D#': 'Eb', GB: 'F#', 'G#': 'Ab', 'A#': 'Bb',
	'E#': 'F', FB: 'E', 'B#': 'C', CB: 'B' };

export const MODES = ['ionian', 'dorian', 'phrygian', 'lydian', 'mixolydian', 'aeolian'];

export const MODE_LABELS = {
	ionian: 'Ionian (major)', dorian: 'Dorian', phrygian: 'Phrygian',
	lydian: 'Lydian', mixolydian: 'Mixolydian', aeolian: 'Aeolian (minor)',
};

export const BPM_MIN = 40;
export const BPM_MAX = 120;

/**
 * The presets, by name: {label, key, mode, bpm, intensity}. The composer's
 * table (compose/compose_tables.c) is their one source: `aur-compose
 * --list-presets` prints it, the server serves that as presets.json, and
 * the page fills this from it (setPresets) before it starts. Empty until
 * then, and when presets.json could not be had.
 */
export const PRESETS = {};

/**
 * What a page starts with when nothing is stored: the default preset's
 * values (the first of presets.json) once known; until then the composer's
 * defaults without a preset, which the server fills in.
 */
export const DEFAULTS = {
	preset: null, key: 'D', mode: 'dorian', bpm: 72, intensity: 0.45, volume: 0.8,
};

/**
 * Fills PRESETS (and DEFAULTS from the default preset) from the list that
 * `aur-compose --list-presets` prints. Entries that are not valid are left
 * out. Returns how many presets there are now.
 */
export function setPresets(list) {
	for (const name of Object.keys(PRESETS)) delete PRESETS[name];
	if (!Array.isArray(list)) return 0;
	let first = null, marked = null;
	for (const p of list) {
		if (!p || typeof p.name !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(p.name)) continue;
		const key = normalizeKey(p.key);
		if (!key || !MODES.includes(p.mode) || !(p.bpm >= BPM_MIN && p.bpm <= BPM_MAX)
			|| !(p.intensity >= 0 && p.intensity <= 1)) continue;
		PRESETS[p.name] = {
			label: typeof p.label === 'string' && p.label ? p.label : p.name,
			key, mode: p.mode, bpm: p.bpm, intensity: p.intensity,
		};
		first ??= p.name;
		if (p.default === true) marked ??= p.name;
	}
	const chosen = marked ?? first;
	if (chosen) Object.assign(DEFAULTS, { preset: chosen }, presetValues(chosen));
	return Object.keys(PRESETS).length;
}

/** The presets from `url` (presets.json beside the page); null when they cannot be had. */
export async function fetchPresets(url = 'presets.json', fetchFn = globalThis.fetch) {
	try {
		const r = await fetchFn(url, { cache: 'no-store' });
		if (!r.ok) return null;
		const list = await r.json();
		return Array.isArray(list) ? list : null;
	} catch {
		return null;
	}
}

function presetValues(name) {
	const p = PRESETS[name];
	return { key: p.key, mode: p.mode, bpm: p.bpm, intensity: p.intensity };
}

/**
 * Is `name` a preset to keep? One of PRESETS; or, while the presets are
 * not known (presets.json could not be had), any well-formed name, so that
 * a listener's choice outlives a page opened without the server.
 */
export function knownPreset(name) {
	if (typeof name !== 'string') return false;
	if (Object.keys(PRESETS).length) return name in PRESETS;
	return /^[a-z][a-z0-9-]{0,31}$/.test(name);
}

/** "Focus": a preset's label, or its name when it is not known. */
export function presetLabel(name) {
	return PRESETS[name]?.label ?? (name ? name.charAt(0).toUpperCase() + name.slice(1) : '');
}

/** Where the settings live in localStorage: one JSON object. */
export const STORAGE_KEY = 'auralis.settings.v1';

/** The fields a listener chooses, in the order they are compared. */
export const FIELDS = ['preset', 'key', 'mode', 'bpm', 'intensity', 'volume'];

/** The canonical spelling of a key, or null when it is none. */
export function normalizeKey(value) {
	if (typeof value !== 'string') return null;
	const m = /^([A-Ga-g])([#b]?)$/.exec(value.trim());
	if (!m) return null;
	const name = m[1].toUpperCase() + m[2];
	if (KEYS.includes(name)) return name;
	return ENHARMONIC[name.toUpperCase()] ?? null;
}

/** Intensity is kept to two decimals: the slider's step and the server's taste. */
function round2(x) {
	return Math.round(x * 100) / 100;
}

/**
 * A complete, valid settings object from anything (stored JSON of an older or
 * tampered page, say): each field that is not valid falls back to its default,
 * so a bad value can never reach the server as a query parameter.
 */
export function sanitize(raw) {
	const s = { ...DEFAULTS };
	if (!raw || typeof raw !== 'object') return s;
	if (knownPreset(raw.preset)) s.preset = raw.preset;
	const key = normalizeKey(raw.key);
	if (key) s.key = key;
	if (MODES.includes(raw.mode)) s.mode = raw.mode;
	if (Number.isFinite(raw.bpm)) s.bpm = Math.round(Math.min(BPM_MAX, Math.max(BPM_MIN, raw.bpm)));
	if (Number.isFinite(raw.intensity)) s.intensity = round2(Math.min(1, Math.max(0, raw.intensity)));
	if (Number.isFinite(raw.volume)) s.volume = round2(Math.min(1, Math.max(0, raw.volume)));
	return s;
}

/** The settings a preset stands for, keeping what a preset does not touch (volume). */
export function applyPreset(settings, name) {
	if (!(name in PRESETS)) return { ...settings, preset: name };
	return { ...settings, preset: name, ...presetValues(name) };
}

/** Reads the stored settings; storage that is absent, full or forbidden gives the defaults. */
export function load(storage = globalThis.localStorage) {
	try {
		const text = storage?.getItem(STORAGE_KEY);
		return sanitize(text ? JSON.parse(text) : null);
	} catch {
		return sanitize(null);
	}
}

/** Stores the settings; a browser that refuses storage still plays. */
export function save(settings, storage = globalThis.localStorage) {
	try {
		storage?.setItem(STORAGE_KEY, JSON.stringify(sanitize(settings)));
		return true;
	} catch {
		return false;
	}
}

/**
 * Stores only `fields` of `settings`, over what is stored now: another tab
 * of the page may have changed the others since this one loaded them, and
 * its changes stay.
 */
export function saveFields(settings, fields, storage = globalThis.localStorage) {
	if (!fields.length) return true;
	const stored = load(storage);
	for (const k of fields) stored[k] = settings[k];
	return save(stored, storage);
}

/** The fields in which two settings objects differ. */
export function changedFields(a, b) {
	return FIELDS.filter((k) => a[k] !== b[k]);
}

/**
 * Do the settings sound as their preset does, with nothing changed by hand
 * since? (A preset button is shown pressed only then.)
 */
export function presetMatches(settings) {
	const p = PRESETS[settings.preset];
	return !!p && ['key', 'mode', 'bpm', 'intensity'].every((k) => settings[k] === p[k]);
}

/**
 * The stream's query string: a (re)connection starts the session with these
 * settings at once (scripts/aur-session), so a reconnect restores the music
 * without a control round trip. The preset decides the sounds; the explicit
 * values win over its defaults, as on the composer's command line. `audio`
 * adds the codec and, for Opus, the bitrate to start at (protocol.md).
 */
export function streamQuery(settings, audio = {}) {
	const q = new URLSearchParams();
	if (settings.preset) q.set('preset', settings.preset);
	q.set('key', settings.key);
	q.set('mode', settings.mode);
	q.set('bpm', String(settings.bpm));
	q.set('intensity', String(settings.intensity));
	if (audio.codec) q.set('codec', audio.codec);
	if (audio.codec === 'opus' && audio.kbps) q.set('kbps', String(audio.kbps));
	return q.toString();
}

/** "D Dorian", "F♯ Lydian". */
export function describeHarmony(key, mode) {
	const label = MODE_LABELS[mode] ?? mode;
	return `${KEY_SHORT[key] ?? key} ${label.replace(/ \(.*\)$/, '')}`;
}

/** The settings a shared link may carry, in its query string. */
export const SHARE_FIELDS = ['preset', 'key', 'mode', 'bpm', 'intensity'];

/**
 * The settings in a page's query string (a shared link): {values, ignored}.
 * `values` holds each parameter that is valid, as the page keeps it;
 * `ignored` says in words each one that is not, and why. Nothing is
 * clamped: a link that asks for 500 BPM was not made by this page, and
 * guessing what it meant would be worse than saying so. Other parameters
 * (codec, kbps, rate) are not settings and are left alone.
 */
export function parseShared(search) {
	const q = new URLSearchParams(search);
	const values = {};
	const ignored = [];
	const bad = (name, raw, why) => ignored.push(`${name} “${raw}” (${why})`);
	if (q.has('preset')) {
		const raw = q.get('preset');
		if (knownPreset(raw)) values.preset = raw;
		else bad('preset', raw, Object.keys(PRESETS).length ? `not one of ${Object.keys(PRESETS).join(', ')}` : 'not a preset');
	}
	if (q.has('key')) {
		const raw = q.get('key');
		const key = normalizeKey(raw);
		if (key) values.key = key;
		else bad('key', raw, 'not a key: A to G, with # or b');
	}
	if (q.has('mode')) {
		const raw = q.get('mode');
		const mode = raw.toLowerCase();
		if (MODES.includes(mode)) values.mode = mode;
		else bad('mode', raw, `not one of ${MODES.join(', ')}`);
	}
	if (q.has('bpm')) {
		const raw = q.get('bpm');
		const bpm = /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
		if (bpm >= BPM_MIN && bpm <= BPM_MAX) values.bpm = Math.round(bpm);
		else bad('bpm', raw, `not a tempo from ${BPM_MIN} to ${BPM_MAX}`);
	}
	if (q.has('intensity')) {
		const raw = q.get('intensity');
		const x = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(raw) ? Number(raw) : NaN;
		if (x >= 0 && x <= 1) values.intensity = round2(x);
		else bad('intensity', raw, 'not a number from 0 to 1');
	}
	return { values, ignored };
}

/**
 * The settings a shared link starts with, over the listener's own: its
 * preset first, then its explicit values, which win (as in the stream's
 * query). Volume stays the listener's.
 */
export function applyShared(settings, values) {
	let s = values.preset ? applyPreset(settings, values.preset) : { ...settings };
	for (const k of ['key', 'mode', 'bpm', 'intensity']) if (k in values) s[k] = values[k];
	return sanitize(s);
}

/** The query string of a link to these settings: `preset=sleep&key=D&…`. */
export function shareQuery(settings) {
	const q = new URLSearchParams();
	for (const k of SHARE_FIELDS) if (settings[k] !== null) q.set(k, String(settings[k]));
	return q.toString();
}
