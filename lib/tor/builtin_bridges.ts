/**
 * The bridges `--bridges obfs4` and `--bridges snowflake` use: Tor Browser's
 * default ("built-in") bridge lines, public data copied as they were
 * published. They may be stale by the time you read this: bridges get
 * blocked, move or close, and Tor Browser updates its list with each
 * release. Fresh bridges come from https://bridges.torproject.org (or an
 * email to bridges@torproject.org) and are given with `--bridge "<line>"`.
 *
 * Source: tor-browser-build, `projects/tor-expert-bundle/pt_config.json`,
 * commit 01d3e9d35aabbc52bfad4e33686f1c83edfa3ce3 of 2026-04-09 ("Bug 41775:
 * Update STUN Server List for Snowflake Default Bridge Line"), the obfs4
 * lines last changed in cf5a3f623f94 of 2025-12-09 ("Update builtin
 * bridges"). Copied on 2026-12-01 from the
 * newest snapshot at hand (its last commit is of 2026-07-29).
 *
 * One change: each snowflake line also carries `front=` with the first of
 * its `fronts=`, because snowflake-client before 2.9 (Debian 12 ships 2.5.1)
 * reads only the singular `front=`; newer clients prefer `fronts=`.
 *
 * @module
 */

/** Where the lines come from and when they were copied, for the user. */
export const BUILTIN_BRIDGES_SOURCE: string =
  "Tor Browser's built-in bridges (tor-browser-build pt_config.json of 2026-04-09, " +
  "copied 2026-12-01); they may be stale: get fresh ones at https://bridges.torproject.org";

/** The built-in bridge sets, by the name `--bridges` takes. */
export const BUILTIN_BRIDGES: Readonly<Record<"obfs4" | "snowflake", readonly string[]>> = {
  obfs4: [
    "obfs4 37.218.245.14:38224 D9A82D2F9C2F65A18407B1D2B764F130847F8B5D cert=bjRaMrr1BRiAW8IE9U5z27fQaYgOhX1UCmOpg2pFpoMvo6ZgQMzLsaTzzQNTlm7hNcb+Sg iat-mode=0",
    "obfs4 209.148.46.65:443 74FAD13168806246602538555B5521A0383A1875 cert=ssH+9rP8dG2NLDN2XuFw63hIO/9MNNinLmxQDpVa+7kTOa9/m+tGWT1SmSYpQ9uTBGa6Hw iat-mode=0",
    "obfs4 146.57.248.225:22 10A6CD36A537FCE513A322361547444B393989F0 cert=K1gDtDAIcUfeLqbstggjIw2rtgIKqdIhUlHp82XRqNSq/mtAjp1BIC9vHKJ2FAEpGssTPw iat-mode=0",
    "obfs4 45.145.95.6:27015 C5B7CD6946FF10C5B3E89691A7D3F2C122D2117C cert=TD7PbUO0/0k6xYHMPW3vJxICfkMZNdkRrb63Zhl5j9dW3iRGiCx0A7mPhe5T2EDzQ35+Zw iat-mode=0",
    "obfs4 51.222.13.177:80 5EDAC3B810E12B01F6FD8050D2FD3E277B289A08 cert=2uplIpLQ0q9+0qMFrK5pkaYRDOe460LL9WHBvatgkuRr/SL31wBOEupaMMJ6koRE6Ld0ew iat-mode=0",
    "obfs4 212.83.43.95:443 BFE712113A72899AD685764B211FACD30FF52C31 cert=ayq0XzCwhpdysn5o0EyDUbmSOx3X/oTEbzDMvczHOdBJKlvIdHHLJGkZARtT4dcBFArPPg iat-mode=1",
    "obfs4 212.83.43.74:443 39562501228A4D5E27FCA4C0C81A01EE23AE3EE4 cert=PBwr+S8JTVZo6MPdHnkTwXJPILWADLqfMGoVvhZClMq/Urndyd42BwX9YFJHZnBB3H0XCw iat-mode=1",
  ],
  snowflake: [
    "snowflake 192.0.2.3:80 2B280B23E1107BB62ABFC40DDCC8824814F80A72 fingerprint=2B280B23E1107BB62ABFC40DDCC8824814F80A72 url=https://1098762253.rsc.cdn77.org/ fronts=app.datapacket.com,www.datapacket.com front=app.datapacket.com ice=stun:stun.epygi.com:3478,stun:stun.uls.co.za:3478,stun:stun.voipgate.com:3478,stun:stun.mixvoip.com:3478,stun:stun.telnyx.com:3478,stun:stun.hot-chilli.net:3478,stun:stun.fitauto.ru:3478,stun:stun.m-online.net:3478 utls-imitate=hellorandomizedalpn",
    "snowflake 192.0.2.4:80 8838024498816A039FCBBAB14E6F40A0843051FA fingerprint=8838024498816A039FCBBAB14E6F40A0843051FA url=https://1098762253.rsc.cdn77.org/ fronts=app.datapacket.com,www.datapacket.com front=app.datapacket.com ice=stun:stun.epygi.com:3478,stun:stun.uls.co.za:3478,stun:stun.voipgate.com:3478,stun:stun.mixvoip.com:3478,stun:stun.telnyx.com:3478,stun:stun.hot-chilli.net:3478,stun:stun.fitauto.ru:3478,stun:stun.m-online.net:3478 utls-imitate=hellorandomizedalpn",
  ],
};
