/**
 * Wrong arguments for every REPL command, each of which must answer with
 * its usage line: shared by the in-memory REPL test and the one in a real
 * terminal (`e2e/repl_test.ts`, whose snapshot shows the last of them).
 *
 * @module
 */

/** Command name → a typed line with wrong arguments for it. */
export const WRONG_USAGE: Readonly<Record<string, string>> = {
  "help": "/help a b",
  "peer": "/peer x",
  "onion": "/onion x",
  "key": "/key x",
  "identity": "/identity x",
  "req-send": "/req-send x",
  "req-check": "/req-check",
  "req-accept": "/req-accept",
  "req-reject": "/req-reject",
  "reqs-in": "/reqs-in x",
  "reqs-out": "/reqs-out x",
  "convs": "/convs x",
  "msg": "/msg alice",
  "pres-on": "/pres-on",
  "pres-off": "/pres-off a b",
  "verify": "/verify alice",
  "auth": "/auth",
  "delete": "/delete",
  "quit": "/quit now",
};
