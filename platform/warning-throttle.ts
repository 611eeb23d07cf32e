/**
 * Lets a warning that would repeat at every request through at most once per key
 * (a workspace) per `everyMs`, counting the times it was held back meanwhile so the
 * next one let through can tell how often it happened. Null when it is held back.
 */
export function warningThrottle(everyMs: number, now: () => number = Date.now): (key: string) => { heldBack: number } | null {
  const last = new Map<string, { at: number; heldBack: number }>();
  return (key) => {
    const at = now();
    const seen = last.get(key);
    if (seen && at - seen.at < everyMs) {
      seen.heldBack++;
      return null;
    }
    last.set(key, { at, heldBack: 0 });
    return { heldBack: seen?.heldBack ?? 0 };
  };
}
