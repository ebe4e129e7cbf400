/**
 * Edit distance for "did you mean" suggestions (commands, flags, peer
 * names). Pure and dependency-free, so every layer may use it.
 *
 * @module
 */

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
