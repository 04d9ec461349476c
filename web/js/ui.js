// ui.js - the parts of the page both pages share: the Play/Stop button, the
// connection indicator, the preset buttons and the controls. Each binds one
// piece of the DOM to an Auralis session (auralis.js) and back.
import { KEYS, KEY_LABELS, MODES, MODE_LABELS, PRESETS, describeHarmony, presetLabel, presetMatches } from './settings.js';

/** The Play/Stop button: named Play while stopped, Stop otherwise. */
export function bindPlayButton(app, button) {
	const label = button.querySelector('.play-label') ?? button;
	const show = (state) => {
		const playing = state !== 'stopped';
		button.dataset.playing = String(playing);
		label.textContent = playing ? 'Stop' : 'Play';
	};
	// A native <button>: Space and Enter press it, and a press is the user
	// gesture that lets the AudioContext start.
	button.addEventListener('click', () => {
		if (app.active) app.stop();
		else app.play();
	});
	app.addEventListener('state', (e) => show(e.detail.state));
	show(app.state);
}

/** The connection indicator: a dot, the state's word, and a few words more. */
export function bindStatus(app, root) {
	const word = root.querySelector('.state-word');
	const detail = root.querySelector('.state-detail');
	const show = ({ state, detail: text, slow = false }) => {
		root.dataset.state = state;
		root.dataset.slow = String(slow);
		document.body.dataset.state = state;
		word.textContent = state;    // the stylesheet capitalizes it
		detail.textContent = text || '';
	};
	app.addEventListener('state', (e) => show(e.detail));
	show({ state: app.state, detail: app.stateDetail });
}

/**
 * The action the status offers when it helps: "Retry now" while a retry
 * waits (connects at once), "Resume audio" when the system paused the
 * audio and it did not run again (a click may resume it).
 */
export function bindAction(app, button) {
	const LABELS = { retry: 'Retry now', resume: 'Resume audio' };
	const show = (action) => {
		button.hidden = !action;
		button.dataset.action = action ?? '';
		if (action) button.textContent = LABELS[action];
	};
	button.addEventListener('click', () => {
		if (button.dataset.action === 'resume') app.resumeAudio();
		else if (button.dataset.action === 'retry') app.retryNow();
	});
	app.addEventListener('state', (e) => show(e.detail.action));
	show(app.action);
}

/**
 * The preset buttons, one for each of PRESETS (settings.js, from the
 * server's presets.json), in `root`'s .preset-row: its label and, with
 * `hints`, its key, mode and tempo. aria-pressed marks the preset the music
 * is built on, while it sounds as the preset does (a key, mode, tempo or
 * intensity changed by hand since lets go of it). With no presets (the
 * server could not say them), root's .presets-note says so.
 */
export function bindPresets(app, root, { hints = true } = {}) {
	const row = root.querySelector('.preset-row');
	const buttons = Object.entries(PRESETS).map(([name, p]) => {
		const b = document.createElement('button');
		b.type = 'button';
		b.className = 'preset';
		b.dataset.preset = name;
		b.setAttribute('aria-pressed', 'false');
		const label = document.createElement('span');
		label.className = 'preset-name';
		label.textContent = p.label;
		b.append(label);
		if (hints) {
			const hint = document.createElement('span');
			hint.className = 'preset-hint';
			hint.textContent = `${describeHarmony(p.key, p.mode)} · ${p.bpm}`;
			b.append(hint);
		}
		b.title = `${describeHarmony(p.key, p.mode)}, ${p.bpm} BPM, intensity ${Math.round(p.intensity * 100)} %`;
		b.addEventListener('click', () => app.choosePreset(name));
		return b;
	});
	row.replaceChildren(...buttons);
	row.hidden = !buttons.length;
	const note = root.querySelector('.presets-note');
	if (note) note.hidden = buttons.length > 0;
	const show = (settings) => {
		const pressed = presetMatches(settings) ? settings.preset : null;
		for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.preset === pressed));
	};
	app.addEventListener('settings', (e) => show(e.detail.settings));
	show(app.settings);
}

/** A range input's filled part, drawn by the stylesheet from --fill. */
function paintRange(input) {
	const min = Number(input.min), max = Number(input.max);
	input.style.setProperty('--fill', `${((Number(input.value) - min) / (max - min)) * 100}%`);
}

/**
 * Key, mode, tempo, intensity and volume. Sliders speak while they move, but
 * at most every 250 ms: a drag is one change to the listener, not forty.
 */
export function bindControls(app, els) {
	const { key, mode, bpm, intensity, volume, bpmOut, intensityOut, volumeOut } = els;
	if (key && !key.options.length) for (const k of KEYS) key.add(new Option(KEY_LABELS[k], k));
	if (mode && !mode.options.length) for (const m of MODES) mode.add(new Option(MODE_LABELS[m], m));

	// The words a screen reader says for a slider's value: "72 BPM", not "72".
	const texts = [
		[bpm, bpmOut, () => `${bpm.value} BPM`],
		[intensity, intensityOut, () => `${Math.round(Number(intensity.value) * 100)} %`],
		[volume, volumeOut, () => `${Math.round(Number(volume.value) * 100)} %`],
	];
	const outputs = () => {
		for (const [input, out, text] of texts) {
			if (!input) continue;
			const words = text();
			input.setAttribute('aria-valuetext', words);
			if (out) out.value = words;
			paintRange(input);
		}
	};
	const show = (s) => {
		if (key) key.value = s.key;
		if (mode) mode.value = s.mode;
		bpm.value = String(s.bpm);
		intensity.value = String(s.intensity);
		if (volume) volume.value = String(s.volume);
		outputs();
	};

	key?.addEventListener('change', () => app.change({ key: key.value }));
	mode?.addEventListener('change', () => app.change({ mode: mode.value }));
	for (const [input, name] of [[bpm, 'bpm'], [intensity, 'intensity']]) {
		let timer = null;
		const send = () => {
			clearTimeout(timer);
			timer = null;
			app.change({ [name]: Number(input.value) });
		};
		input.addEventListener('input', () => {
			outputs();
			if (timer === null) timer = setTimeout(send, 250);
		});
		input.addEventListener('change', send);
	}
	volume?.addEventListener('input', () => {
		outputs();
		app.setVolume(Number(volume.value));
	});
	app.addEventListener('settings', (e) => show(e.detail.settings));
	show(app.settings);
}

/** "D Dorian", "72 BPM · intensity 45 % · Focus". */
export function nowPlayingText(p) {
	const preset = p.preset ? ` · ${presetLabel(p.preset)}` : '';
	return {
		main: `${describeHarmony(p.key, p.mode)} · ${p.bpm} BPM`,
		sub: `Intensity ${Math.round(p.intensity * 100)} %${preset}`,
	};
}

/** "Opus 96 kbit/s · 141 kbit/s received", "PCM 44.1 kHz · 1882 kbit/s received". */
export function codecText(s) {
	const coding = s.codec === 'opus'
		? `Opus ${s.bitrate ?? '?'} kbit/s`
		: `PCM ${s.sampleRate ? (s.sampleRate / 1000).toFixed(1) : '?'} kHz`;
	return `${coding} · ${Math.round(s.kbps)} kbit/s received`;
}
