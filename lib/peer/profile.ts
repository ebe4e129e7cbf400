/**
 * The peer's profile (`profile.json`): its name, its X25519 identity key
 * pair and its onion service key's secret seed, created on the first start
 * of a name (as unMessage 0.1 puts it, "if this is the first time you use
 * that name, your Onion Service and Double Ratchet keys are created") and
 * loaded afterwards.
 *
 * ```json
 * { "version": 1, "name": "alice", "identitySecretKey": "<base64 32>",
 *   "onionSeed": "<base64 32>", "createdAt": 1700000000000 }
 * ```
 *
 * It holds secrets: the store encrypts it when the peer has a passphrase.
 *
 * @module
 */

import { toBase64 } from "../crypto/bytes.ts";
import { generateKeyPair, KEY_LENGTH, type KeyPair, keyPairFromSecret } from "../crypto/keys.ts";
import {
  generateOnionKey,
  ONION_KEY_LENGTH,
  type OnionKey,
  onionKeyFromSeed,
} from "../crypto/onion.ts";
import type { Rng } from "../crypto/bytes.ts";
import type { PeerStore } from "../store/peer_store.ts";
import { b64, invalid, object, str, uint } from "./_json.ts";

/** Version of the profile's JSON form. */
export const PROFILE_VERSION = 1;

/** The keys of a peer. */
export interface Profile {
  /** The peer's name (its folder's name). */
  name: string;
  /** The X25519 identity key pair. */
  identity: KeyPair;
  /** The onion service key (stored as its secret seed). */
  onionKey: OnionKey;
  /** When the profile was created, ms since the Unix epoch. */
  createdAt: number;
}

/** Checks and rebuilds a stored profile; throws TypeError naming the bad field. */
export function profileFromJson(json: unknown): Profile {
  const o = object(json, "version name identitySecretKey onionSeed createdAt", "profile");
  if (o.version !== PROFILE_VERSION) invalid("profile version is not supported");
  return {
    name: str(o.name, "profile name"),
    identity: keyPairFromSecret(b64(o.identitySecretKey, KEY_LENGTH, "identitySecretKey")),
    onionKey: onionKeyFromSeed(b64(o.onionSeed, ONION_KEY_LENGTH, "onionSeed")),
    createdAt: uint(o.createdAt, "createdAt"),
  };
}

/** The JSON form of a profile (holds secrets). */
export function profileToJson(profile: Profile): unknown {
  return {
    version: PROFILE_VERSION,
    name: profile.name,
    identitySecretKey: toBase64(profile.identity.secretKey),
    onionSeed: toBase64(profile.onionKey.seed),
    createdAt: profile.createdAt,
  };
}

/**
 * Loads the profile of `store`, or creates and saves a new one named
 * `name` with fresh keys. A stored profile keeps its keys; a different
 * `name` renames it (the folder, not the profile, names a peer).
 */
export async function loadOrCreateProfile(
  store: PeerStore,
  name: string,
  rng: Rng,
  now: number,
): Promise<{ profile: Profile; created: boolean }> {
  const stored = await store.loadProfile(profileFromJson);
  if (stored !== undefined) {
    if (stored.name !== name) {
      stored.name = name;
      await store.saveProfile(profileToJson(stored));
    }
    return { profile: stored, created: false };
  }
  const profile: Profile = {
    name,
    identity: generateKeyPair(rng),
    onionKey: generateOnionKey(rng),
    createdAt: now,
  };
  await store.saveProfile(profileToJson(profile));
  return { profile, created: true };
}
