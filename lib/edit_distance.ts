/**
 * The one "did you mean" rule, for commands, command-line flags and peer
 * names alike ({@linkcode closestName}), and the edit distance it measures
 * with. Pure and dependency-free, so every layer may use it.
 *
 * @module
 */

/**
 * Farthest edit distance of a suggestion: a typo or two. It is also at most
 * half the typed word (and at least 1), so a short word is not "corrected"
 * into an unrelated one.
 */
export const MAX_SUGGESTION_DISTANCE = 2;

/**
 * The known name closest to `typed`, or undefined when none is close:
 * case is folded; a name that `typed` begins counts as half an edit (so
 * `pres-of` finds `pres-off`, and `ali` finds `alice`); otherwise the edit
 * distance must be within {@linkcode MAX_SUGGESTION_DISTANCE} and half the
 * typed length. Ties go to the earlier name. Callers bound `typed` (the
 * distance is quadratic).
 */
export function closestName(typed: string, known: Iterable<string>): string | undefined {
  const lower = typed.toLowerCase();
  const limit = Math.min(MAX_SUGGESTION_DISTANCE, Math.max(1, Math.floor([...lower].length / 2)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const c = candidate.toLowerCase();
    const distance = lower.length > 0 && c.startsWith(lower) ? 0.5 : editDistance(lower, c);
    if (distance <= limit && distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/**
 * Edit distance with adjacent transpositions (optimal string alignment):
 * insert, delete, substitute and swap two neighbours each cost 1, so the
 * common typo `mgs` is 1 away from `msg`. Case-sensitive; callers fold case
 * where they want to. Quadratic: meant for short strings.
 */
export function editDistance(a: string, b: string): number {
  const s = [...a];
  const t = [...b];
  const d: number[][] = Array.from(
    { length: s.length + 1 },
    (_, i) => Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[s.length]![t.length]!;
}
