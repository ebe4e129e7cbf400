/**
 * Time bounds on promises, one way for the whole tree: {@linkcode deadline}
 * settles with a fallback (or its error) once a time has passed, and
 * {@linkcode bounded} waits for work at most that long, ignoring its outcome.
 * The timer is always cleared, so a bounded wait never keeps the process (or
 * a test) alive after the work settled.
 *
 * A wait that a caller's `AbortSignal` must also cut short uses
 * `AbortSignal.any` with the caller's signal instead (see `net/connector.ts`).
 *
 * @module
 */

/**
 * Settles like `work`, or, if `ms` pass first, with what `onTimeout` returns
 * (a throw from it rejects). `work` is not cancelled: the caller closes what
 * it left behind in `onTimeout`.
 */
export async function deadline<T, U>(
  work: Promise<T>,
  ms: number,
  onTimeout: () => U,
): Promise<T | U> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<U>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (e) {
        reject(e);
      }
    }, ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `work` for at most `ms`, ignoring whether it succeeded. */
export async function bounded(work: Promise<unknown>, ms: number): Promise<void> {
  await deadline(work.then(() => {}, () => {}), ms, () => {});
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
