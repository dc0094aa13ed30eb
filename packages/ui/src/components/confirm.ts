/** Asks before something that cannot be undone (the browser's own dialog: keyboard-friendly and accessible). */
export function confirmed(question: string): boolean {
  return window.confirm(question);
}
