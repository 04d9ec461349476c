// keys.js - the page's keys, wherever the focus is that does not take them
// itself: Space plays or stops, M mutes, ← and → change the intensity.
//
// Pure logic, no DOM: the browser tests import it in Node too.

/** How much ← and → change the intensity: five of the slider's steps. */
export const INTENSITY_STEP = 0.05;

/** Elements whose own keys come first: typing, choosing, sliding, pressing. */
const OWN_KEYS = new Set(['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON', 'A']);

/**
 * What a key press means to the page: 'toggle' (play or stop), 'mute',
 * 'lower' or 'raise' (the intensity), or null (not the page's: a modifier
 * held, a key repeated for Space and M, or a control with the focus that
 * uses the key itself — a focused button already takes Space, a slider the
 * arrows).
 */
export function keyAction({ key, target = null, ctrlKey = false, metaKey = false, altKey = false, repeat = false }) {
	if (ctrlKey || metaKey || altKey) return null;
	if (target && (OWN_KEYS.has(target.tagName) || target.isContentEditable)) return null;
	if (key === ' ' || key === 'Spacebar') return repeat ? null : 'toggle';
	if (key === 'm' || key === 'M') return repeat ? null : 'mute';
	if (key === 'ArrowLeft') return 'lower';
	if (key === 'ArrowRight') return 'raise';
	return null;
}

/** The intensity after 'lower' or 'raise', kept to 0…1 and two decimals. */
export function stepIntensity(intensity, action) {
	const next = intensity + (action === 'raise' ? INTENSITY_STEP : -INTENSITY_STEP);
	return Math.round(Math.min(1, Math.max(0, next)) * 100) / 100;
}
