/**
 * The one shape of a change that must reach the disk before it counts: the
 * caller changes memory, {@linkcode saveOrUndo} saves it, and a failed save
 * undoes the change in memory and is thrown, so memory never holds what the
 * disk does not (see docs/architecture.md, "Crash safety").
 *
 * @module
 */

/**
 * Runs `save`; if it fails, runs `undo` (which puts memory back as it was
 * before the change) and throws the save's error.
 */
export async function saveOrUndo(
  save: () => Promise<unknown>,
  undo: () => unknown,
): Promise<void> {
  try {
    await save();
  } catch (e) {
    await undo();
    throw e;
  }
}
