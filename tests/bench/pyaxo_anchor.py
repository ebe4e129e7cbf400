"""The anchor of tests/bench/durable_bench.ts: pyaxo with unMessage 0.1's
save after every encryption and decryption (unmessage/peer.py calls
axolotl.save() after each), as messages per second, median of several runs.

Usage: /usr/bin/python3 pyaxo_anchor.py <pyaxo checkout> <messages> <runs>

pyaxo (github.com/rxcomm/pyaxo) is Python 2; nothing of it is kept in this
repository. Its pyaxo.py is copied to a temporary folder, converted with
lib2to3, and given the byte-string fixes Python 3 needs (listed in FIXES);
it needs python3-nacl and python3-passlib (Debian). A save there updates an
in-memory SQLite database and rewrites the whole database file, without
fsync: the anchor is not crash-safe, which makes it a generous one.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# Python 2 idioms of pyaxo.py that lib2to3 leaves, with their Python 3 forms
FIXES = [
    ("return sha256(data).decode('hex')", "return bytes.fromhex(sha256(data).decode())"),
    ("+ '0')", "+ b'0')"),
    ("+ '1')", "+ b'1')"),
    ("+ chr(pad_length)", "+ bytes([pad_length])"),
    ("pad_length = ord(pad)", "pad_length = pad[0]"),
    ("sql = bytes('\\n'.join(db.iterdump()))", "sql = '\\n'.join(db.iterdump()).encode()"),
    ("with open(self.dbname, 'w') as f:\n                    f.write(sql)",
     "with open(self.dbname, 'wb') as f:\n                    f.write(sql)"),
]


def load(checkout, work):
    src = os.path.join(checkout, "pyaxo.py")
    dst = os.path.join(work, "pyaxo.py")
    shutil.copy(src, dst)
    subprocess.run([sys.executable, "-m", "lib2to3", "-w", "-n", dst],
                   check=True, capture_output=True)
    with open(dst) as f:
        text = f.read()
    for old, new in FIXES:
        if old not in text:
            raise SystemExit("pyaxo.py is not the expected version: missing " + repr(old))
        text = text.replace(old, new)
    with open(dst, "w") as f:
        f.write(text)
    sys.path.insert(0, work)
    import pyaxo
    return pyaxo


def run(pyaxo, work, n, r):
    a = pyaxo.Axolotl("alice", dbname=os.path.join(work, "a%d.db" % r), dbpassphrase=None)
    b = pyaxo.Axolotl("bob", dbname=os.path.join(work, "b%d.db" % r), dbpassphrase=None)
    a.initState("bob", b.state["DHIs"], b.handshakePKey, b.state["DHRs"], verify=False)
    b.initState("alice", a.state["DHIs"], a.handshakePKey, a.state["DHRs"], verify=False)
    a.saveState()
    b.saveState()
    start = time.perf_counter()
    for i in range(n):
        ciphertext = a.encrypt(b"burst message %d" % i)
        a.saveState()
        if b.decrypt(ciphertext) != b"burst message %d" % i:
            raise SystemExit("pyaxo decrypted something else")
        b.saveState()
    return n / (time.perf_counter() - start)


def main():
    checkout, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    work = tempfile.mkdtemp(prefix="pyaxo-anchor-")
    try:
        pyaxo = load(checkout, work)
        print("%.1f" % statistics.median(run(pyaxo, work, n, r) for r in range(runs)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
