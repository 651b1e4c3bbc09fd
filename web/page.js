// Small helpers the demo pages share (web/voice.js, web/live.js): element
// lookup, the status and error lines, event handlers that show their
// errors, and labelled buttons.

export const $ = (id) => document.getElementById(id);

export function setStatus(text) {
  $('status').textContent = text;
}

/** Shows a ChorusError (code + message) or any other error. */
export function showError(err) {
  console.error(err);
  const code = err && err.code !== undefined ? `Error ${err.code}: ` : 'Error: ';
  $('error').textContent = `${code}${err && err.message ? err.message : err}`;
}

export function clearError() {
  $('error').textContent = '';
}

/** Wraps an event handler: clears the previous error, shows a new one. */
export const guard = (fn) => async (ev) => {
  if (ev) ev.preventDefault();
  clearError();
  try {
    await fn(ev);
  } catch (err) {
    showError(err);
  }
};

/** A button with an accessible label whose click handler is guarded. */
export function button(text, label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', guard(onClick));
  return b;
}
