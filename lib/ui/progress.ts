/**
 * Tor's bootstrap shown as a progress bar with its phase, so that a slow
 * start shows where it is, e.g.
 * `Tor [██████████░░░░░░░░░░]  50% Loading relay descriptors`. Pure.
 *
 * @module
 */

import { paint, sanitize, stripAnsi, type Style } from "./render.ts";
import { fitWidth, textWidth } from "./width.ts";

/** Cells of the bar. */
export const BAR_CELLS = 24;
/** Fewest cells worth drawing as a bar. */
const MIN_BAR_CELLS = 4;
/** Longest phase text shown (the rest is cut with an ellipsis). */
const MAX_PHASE_LENGTH = 60;

/** Columns of the bar's frame and percentage: `Tor [`, `] `, `100% `. */
const FRAME_COLUMNS = 12;
/** Fewest columns kept for the phase before the bar is narrowed. */
const MIN_PHASE_COLUMNS = 10;

/**
 * One line of the bar for `progress` (0..100, clamped) and the phase
 * `summary`, narrower than `columns` (a row that wraps leaves a row behind
 * at every redraw): the phase is cut first, then the bar, then dropped.
 * Without colours the bar uses `#` and `-`, so it survives any terminal or log.
 */
export function progressLine(
  style: Style,
  progress: number,
  summary: string,
  columns: number,
): string {
  const p = Number.isFinite(progress) ? Math.min(100, Math.max(0, Math.round(progress))) : 0;
  const fit = columns - 1;
  const cells = Math.min(BAR_CELLS, fit - FRAME_COLUMNS - MIN_PHASE_COLUMNS);
  const percent = `${String(p).padStart(3)}% `;
  let head = `Tor ${percent}`;
  if (cells >= MIN_BAR_CELLS) {
    const filled = Math.round((p / 100) * cells);
    const [full, empty] = style.color ? ["█", "░"] : ["#", "-"];
    const bar = paint(style, "cyan", full.repeat(filled)) +
      paint(style, "dim", empty.repeat(cells - filled));
    head = `Tor [${bar}] ${percent}`;
  }
  const used = textWidth(stripAnsi(head));
  if (used > fit) return fitWidth(`Tor ${p}%`, Math.max(1, fit));
  const room = Math.min(MAX_PHASE_LENGTH, fit - used);
  return room > 1 ? head + fitWidth(sanitize(summary), room) : head;
}

/** The banner shown once the peer is reachable: what to give contacts. */
export function readyBanner(
  style: Style,
  identity: { address: string; key: string },
): string {
  return [
    paint(style, ["bold", "green"], "Ready.") +
    " Give your contacts this identity address and key (copy the line below):",
    paint(style, "bold", `${identity.address} ${identity.key}`),
    `Type ${paint(style, "bold", "/help")} for the commands.`,
  ].join("\n");
}
