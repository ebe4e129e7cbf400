/**
 * Tor's bootstrap shown as a progress bar with its phase, so that a slow
 * start shows where it is, e.g.
 * `Tor [██████████░░░░░░░░░░]  50% Loading relay descriptors`. Pure.
 *
 * @module
 */

import { paint, sanitize, type Style } from "./render.ts";

/** Cells of the bar. */
export const BAR_CELLS = 24;
/** Longest phase text shown (the rest is cut with an ellipsis). */
const MAX_PHASE_LENGTH = 60;

/**
 * One line of the bar for `progress` (0..100, clamped) and the phase
 * `summary`; fits in `columns` when possible. Without colours the bar uses
 * `#` and `-`, so it survives any terminal or log.
 */
export function progressLine(
  style: Style,
  progress: number,
  summary: string,
  columns: number,
): string {
  const p = Number.isFinite(progress) ? Math.min(100, Math.max(0, Math.round(progress))) : 0;
  const filled = Math.round((p / 100) * BAR_CELLS);
  const [full, empty] = style.color ? ["█", "░"] : ["#", "-"];
  const bar = paint(style, "cyan", full.repeat(filled)) +
    paint(style, "dim", empty.repeat(BAR_CELLS - filled));
  const head = `Tor [${bar}] ${String(p).padStart(3)}% `;
  const room = Math.max(10, Math.min(MAX_PHASE_LENGTH, columns - (BAR_CELLS + 12)));
  let phase = sanitize(summary);
  if (phase.length > room) phase = `${phase.slice(0, room - 1)}…`;
  return head + phase;
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
