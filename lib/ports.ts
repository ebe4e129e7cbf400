/**
 * TCP ports, one definition for every layer: the onion service's virtual
 * port in a request, tor's SOCKS and control ports, a proxy's or a bridge's
 * port, a `--direct` registry entry, a command-line flag.
 *
 * @module
 */

/** Lowest TCP port (0 means "any" to the OS, never a port to dial or listen on). */
export const MIN_PORT = 1;
/** Highest TCP port: the field is 16 bits. */
export const MAX_PORT = 65535;

/** Whether `value` is an integer TCP port, {@linkcode MIN_PORT} to {@linkcode MAX_PORT}. */
export function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= MIN_PORT &&
    (value as number) <= MAX_PORT;
}
