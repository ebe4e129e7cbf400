import { assert, assertEquals } from "./_assert.ts";

const IO_URL = new URL("../scripts/_tornet_io.ts", import.meta.url).href;
const RELAYS = 5;

/** A fake directory port: a consensus listing RELAYS relays and their microdescriptors. */
function fakeDirPort(): { port: number; paths: string[]; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const paths: string[] = [];
  const serve = async (conn: Deno.Conn) => {
    try {
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      const request = new TextDecoder().decode(buf.subarray(0, n ?? 0));
      const path = request.split(" ")[1] ?? "";
      paths.push(path);
      const body = path.startsWith("/tor/status-vote/")
        ? Array.from({ length: RELAYS }, (_, i) => `r relay${i}\nm digest${i}\n`).join("")
        : "onion-key\n".repeat(RELAYS);
      const reply = `HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n${body}`;
      await conn.write(new TextEncoder().encode(reply));
    } finally {
      conn.close();
    }
  };
  void (async () => {
    for await (const conn of listener) void serve(conn).catch(() => {});
  })().catch(() => {});
  return { port: listener.addr.port, paths, close: () => listener.close() };
}

Deno.test("consensusGap() talks to the directory port directly even with $HTTP_PROXY set", async () => {
  const dir = fakeDirPort();
  const proxy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let proxied = 0;
  void (async () => {
    for await (const conn of proxy) {
      proxied++;
      conn.close();
    }
  })().catch(() => {});
  try {
    const code = `const { consensusGap } = await import(${JSON.stringify(IO_URL)});\n` +
      `console.log(JSON.stringify(await consensusGap(${dir.port}, ${RELAYS})));`;
    const proxyUrl = `http://127.0.0.1:${proxy.addr.port}`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      env: { HTTP_PROXY: proxyUrl, http_proxy: proxyUrl, NO_PROXY: "", no_proxy: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert(out.success, stderr);
    assertEquals(JSON.parse(new TextDecoder().decode(out.stdout)), "");
    assertEquals(proxied, 0);
    assertEquals(dir.paths, [
      "/tor/status-vote/current/consensus-microdesc",
      `/tor/micro/d/${Array.from({ length: RELAYS }, (_, i) => `digest${i}`).join("-")}`,
    ]);
  } finally {
    dir.close();
    proxy.close();
  }
});
