/**
 * Loading a peer's requests and conversations at open: every damaged value
 * is reported (an `error` event naming its file and key, from the store) and
 * left untouched, the others load, and so is what the store found amiss in
 * the folder (files that are not regular files, old files left over).
 * Conversations load lazily (stored_conversation.ts). Leftovers of a crash between the two saves
 * of an accepted request are reconciled: a request that already became a
 * conversation is dropped.
 *
 * @module
 */

import { errorCode } from "../net/net_error.ts";
import { describeError } from "../store/errors.ts";
import type { PeerStore } from "../store/peer_store.ts";
import { equalBytes } from "../crypto/bytes.ts";
import {
  type ConversationRecord,
  emptyRequests,
  type RequestsBook,
  requestsFromJson,
} from "./records.ts";
import {
  conversationFromStore,
  conversationNeedsSave,
  conversationSaveFailed,
  conversationToStore,
} from "./stored_conversation.ts";
import type { EventSink } from "./types.ts";

export type { EventSink } from "./types.ts";

/** What {@linkcode loadState} found. */
export interface LoadedState {
  /** The pending requests, reconciled with the conversations. */
  requests: RequestsBook;
  /** Every stored conversation. */
  records: ConversationRecord[];
}

/** Loads the pending requests and every conversation of `store`. */
export async function loadState(store: PeerStore, emit: EventSink): Promise<LoadedState> {
  let requests = emptyRequests();
  try {
    requests = (await store.loadRequests(requestsFromJson)) ?? emptyRequests();
  } catch (e) {
    // later saves of damaged requests are refused by the store: never overwritten
    emit({ event: "error", code: errorCode(e), message: describeError(e) });
  }
  for (const notice of store.notices) {
    emit({ event: "error", code: notice.code, message: notice.message });
  }
  const epoch = store.stats.failed;
  const loaded = await store.loadConversations((head, parts, id, text) =>
    conversationFromStore(id, head, parts, epoch, text)
  );
  const records = [...loaded.loaded.values()];
  for (const failure of loaded.failed) {
    emit({ event: "error", code: failure.code, message: failure.message });
  }
  // heads of an older format (migrated ones) are written once in this one, in one commit
  for (const record of records.filter(conversationNeedsSave)) {
    const { head, parts } = conversationToStore(record, epoch);
    store.saveConversation(record.fileId, head, parts).catch((e) => {
      conversationSaveFailed(record);
      emit({ event: "error", code: errorCode(e), message: describeError(e) });
    });
  }
  const ids = new Set(records.map((r) => r.fileId));
  requests.outbound = requests.outbound.filter((r) => !ids.has(r.id));
  requests.inbound = requests.inbound.filter((r) =>
    !records.some((c) =>
      c.requestKey !== null && equalBytes(c.requestKey, r.state.requestPublicKey)
    )
  );
  return { requests, records };
}
