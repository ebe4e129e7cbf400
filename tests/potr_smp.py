#!/usr/bin/python3
"""Drives python-potr's own SMP (potr.crypt.SMPHandler) over JSON lines.

Usage: potr_smp.py --role initiator|responder --secret-hex HEX

Speaks the protocol of scripts/smp-peer.ts: each line is
{"msg": "SMP1"|"SMP2"|"SMP3"|"SMP4"|"ABORT", "mpis": [hex, ...]}; the last
line out is {"result": "match"|"nomatch"|"abort", "reason": "..."}.

All SMP math (exponents, proofs, checks, the decision) is potr's. The only
thing replaced is where the SMP secret comes from: potr derives it as
SHA256(1 || fingerprints || session id || answer) inside gotSecret(); this
script makes exactly that one hash call return the given integer, so both
implementations compute with the same secret.
"""

import argparse
import json
import sys

try:
    import potr.crypt as crypt
    from potr import proto
    from potr.utils import long_to_bytes
except ImportError as exc:  # the interop test reports this on stderr
    sys.stderr.write("potr_smp.py: python3-potr is not installed: %s\n" % exc)
    sys.exit(3)

TLV_BY_NAME = {
    "SMP1": proto.SMP1TLV,
    "SMP2": proto.SMP2TLV,
    "SMP3": proto.SMP3TLV,
    "SMP4": proto.SMP4TLV,
    "ABORT": proto.SMPABORTTLV,
}
NAME_BY_TLV = {cls: name for name, cls in TLV_BY_NAME.items()}

OUR_FP = b"\x11" * 20
THEIR_FP = b"\x22" * 20
SESSION_ID = b"\x33" * 8
PLACEHOLDER_ANSWER = b"interop"


class _Key:
    def __init__(self, fp):
        self._fp = fp

    def fingerprint(self):
        return self._fp


class _User:
    def getPrivkey(self):
        return _Key(OUR_FP)


class _Context:
    """The slice of potr.context.Context that SMPHandler uses."""

    def __init__(self):
        self.user = _User()
        self.sent = []
        self.trust = None

    def sendInternal(self, msg, tlvs=(), appdata=None):
        self.sent.extend(tlvs)

    def setCurrentTrust(self, trust):
        self.trust = trust


class _CryptoContext:
    """The slice of potr.crypt.CryptEngine that SMPHandler uses."""

    def __init__(self):
        self.ctx = _Context()
        self.theirPubkey = _Key(THEIR_FP)
        self.sessionId = SESSION_ID


def install_secret(secret):
    """Makes potr's secret-combining SHA256 call yield `secret`."""
    original = crypt.SHA256
    combined = {
        b"\1" + OUR_FP + THEIR_FP + SESSION_ID + PLACEHOLDER_ANSWER,
        b"\1" + THEIR_FP + OUR_FP + SESSION_ID + PLACEHOLDER_ANSWER,
    }

    def sha256(data):
        if data in combined:
            return long_to_bytes(secret)
        return original(data)

    crypt.SHA256 = sha256


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def flush_sent(engine):
    aborted = False
    for tlv in engine.ctx.sent:
        name = NAME_BY_TLV[type(tlv)]
        aborted = aborted or name == "ABORT"
        emit({"msg": name, "mpis": ["%x" % n for n in tlv.mpis]})
    engine.ctx.sent.clear()
    return aborted


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["initiator", "responder"], required=True)
    parser.add_argument("--secret-hex", required=True)
    args = parser.parse_args()
    install_secret(int(args.secret_hex, 16))

    engine = _CryptoContext()
    smp = crypt.SMPHandler(engine)
    if args.role == "initiator":
        smp.gotSecret(PLACEHOLDER_ANSWER)
        flush_sent(engine)

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            tlv_class = TLV_BY_NAME[data["msg"]]
            tlv = tlv_class([int(h, 16) for h in data["mpis"]])
        except (ValueError, KeyError, TypeError) as exc:
            emit({"msg": "ABORT", "mpis": []})
            emit({"result": "abort", "reason": "potr: malformed line: %s" % exc})
            return
        smp.handle(tlv)
        if tlv_class is proto.SMP1TLV and smp.state == 0:
            smp.gotSecret(PLACEHOLDER_ANSWER)  # responder answers at once
        we_aborted = flush_sent(engine)
        if smp.prog == crypt.SMPPROG_SUCCEEDED:
            emit({"result": "match", "reason": "potr: secrets matched"})
            return
        if smp.prog == crypt.SMPPROG_FAILED:
            emit({"result": "nomatch", "reason": "potr: secrets differ"})
            return
        if tlv_class is proto.SMPABORTTLV:
            emit({"result": "abort", "reason": "potr: peer aborted"})
            return
        if we_aborted:
            emit({"result": "abort", "reason": "potr: rejected message"})
            return
    emit({"result": "abort", "reason": "potr: input ended"})


if __name__ == "__main__":
    main()
