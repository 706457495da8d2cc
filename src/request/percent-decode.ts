/** How many rounds of percent-decoding are tried (double encoding); more means unreadable. */
const MAX_DECODE_ROUNDS = 3;

/**
 * A path percent-decoded until no `%` is left, as a backend that decodes
 * more than once might read it; `undefined` when it cannot be read that way
 * (malformed encoding, or nested deeper than a few rounds). Callers that
 * judge a path treat `undefined` as the worst case.
 */
export function decodeRepeatedly(path: string): string | undefined {
  let decoded = path;
  for (let round = 0; decoded.includes('%'); round += 1) {
    if (round === MAX_DECODE_ROUNDS) return undefined;
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      return undefined;
    }
  }
  return decoded;
}
