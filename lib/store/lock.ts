/**
 * One process per peer. Two processes running the same peer would fight over
 * its onion service and, worse, advance the same ratchets from two copies of
 * the state, desynchronising every conversation.
 *
 * Mechanism: an advisory lock taken with `Deno.FsFile.tryLock(true)` on
 * `<peer>/peer.lock`. Deno 2.9 has this non-blocking variant of `lock()`; on
 * Linux and macOS it is `flock(LOCK_EX | LOCK_NB)`, on Windows
 * `LockFileEx(LOCKFILE_FAIL_IMMEDIATELY)`. We chose it over the alternatives:
 * - an O_EXCL pid file needs a liveness check (`kill(pid, 0)`) that is racy
 *   (two processes can both decide the owner is dead and both "take over")
 *   and wrong after PID reuse; a kernel lock has neither problem;
 * - a blocking `lock()` in a helper with a timeout adds a process for nothing.
 * The kernel drops the lock when its holder dies, however it dies (SIGKILL,
 * power loss of the session), so a stale lock is taken over by simply
 * acquiring it: no guessing about liveness. Deno opens files with O_CLOEXEC,
 * so children (tor) never inherit the lock and keep it after we die.
 *
 * The lock file is never deleted: unlinking it while another process waits
 * on the same inode would let two processes each lock a different inode.
 * Who holds the lock (PID, host, since when) is written to a separate
 * `peer.lock.json` after acquiring, only to make the `locked` error helpful
 * (Windows forbids reading a locked file's bytes, hence a second file).
 *
 * Limit: advisory locks on network file systems depend on the server (NFS
 * maps flock to fcntl locks since Linux 2.6.12); keep profiles on local disk.
 *
 * @module
 */

import { hostname } from "node:os";
import { peerPathsOf } from "./paths.ts";
import { ensureDir, FILE_MODE, readFileBounded, writeJsonAtomic } from "./atomic.ts";
import { StoreError, wrapIoError } from "./errors.ts";

/** Longest host name or date shown from `peer.lock.json` (it may be hand-edited). */
const MAX_HOLDER_FIELD = 255;

/** A held peer lock. */
export interface PeerLock {
  /** Path of the lock file. */
  readonly path: string;
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

/** What `peer.lock.json` says about the holder. */
export interface LockHolder {
  /** Process ID of the holder. */
  pid: number;
  /** Host name of the machine the holder runs on (shown with the PID: a PID names a process on that host only). */
  host: string;
  /** ISO 8601 time the lock was taken. */
  since: string;
}

/**
 * Takes the exclusive lock of the peer folder `peerDir` (created 0700 if
 * missing) without waiting. A lock left by a process that died is free and
 * is simply taken.
 *
 * @throws {StoreError} `locked` if another live process (or another handle
 *   in this process) holds it, naming the holder's PID when known; `io` if
 *   the file system cannot lock
 */
export async function acquirePeerLock(peerDir: string): Promise<PeerLock> {
  const paths = peerPathsOf(peerDir);
  await ensureDir(peerDir);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(paths.lock, { read: true, write: true, create: true, mode: FILE_MODE });
  } catch (e) {
    throw wrapIoError(e, "open lock file", paths.lock);
  }
  let locked: boolean;
  try {
    locked = await file.tryLock(true);
  } catch (e) {
    file.close();
    throw wrapIoError(e, "lock", paths.lock);
  }
  if (!locked) {
    file.close();
    throw lockedError(peerDir, paths.lock, await readHolder(paths.lockInfo));
  }
  try {
    const holder: LockHolder = { pid: Deno.pid, host: hostname(), since: new Date().toISOString() };
    await writeJsonAtomic(paths.lockInfo, holder);
  } catch (e) {
    file.close(); // closing drops the lock
    throw e;
  }
  let released = false;
  return {
    path: paths.lock,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      // remove the holder info before unlocking, so we never delete the
      // info the next holder just wrote
      await Deno.remove(paths.lockInfo).catch(() => {});
      try {
        await file.unlock();
      } finally {
        file.close();
      }
    },
  };
}

/** Reads `peer.lock.json`; undefined if absent or unreadable. */
export async function readHolder(infoPath: string): Promise<LockHolder | undefined> {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(await readFileBounded(infoPath)));
    if (typeof value !== "object" || value === null) return undefined;
    const { pid, host, since } = value as Record<string, unknown>;
    if (
      !Number.isSafeInteger(pid) || typeof host !== "string" || typeof since !== "string" ||
      host.length > MAX_HOLDER_FIELD || since.length > MAX_HOLDER_FIELD
    ) {
      return undefined;
    }
    return { pid: pid as number, host, since };
  } catch {
    return undefined;
  }
}

function lockedError(
  peerDir: string,
  lockPath: string,
  holder: LockHolder | undefined,
): StoreError {
  let who = "another process";
  if (holder !== undefined) {
    const here = holder.host === hostname();
    who = holder.pid === Deno.pid && here
      ? `this process (PID ${holder.pid})`
      : `process ${holder.pid}${
        here ? "" : ` on host ${JSON.stringify(holder.host)}`
      } (since ${holder.since})`;
  }
  return new StoreError(
    "locked",
    `Cannot open peer ${peerDir}: it is in use by ${who}; ` +
      "quit that unMessage first (one process per peer), or start another peer",
    lockPath,
  );
}
