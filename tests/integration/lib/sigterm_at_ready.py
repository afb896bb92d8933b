#!/usr/bin/env python3
"""SIGTERM the moment a server says it is listening: a graceful stop (exit 0), every time.

  sigterm_at_ready.py SERVER_BINARY [ROUNDS]

Starts SERVER_BINARY --listen 127.0.0.1:0 ROUNDS times (default 40), sends SIGTERM as soon as
its "listening on" line is read, and expects exit status 0 each time within 15 s. A server that
announces itself before its signal handlers are installed is killed by the signal (status -15)
in a good part of the rounds. Used by core_shutdown.sh; prints "ok: ..." or "FAIL: ..." (exit 1).
"""
import signal
import subprocess
import sys


def main():
    binary = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    bad = []
    for i in range(rounds):
        srv = subprocess.Popen([binary, "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE,
                               text=True)
        seen = False
        for _ in range(50):              # the listening line (sanitizer notes may come first)
            line = srv.stderr.readline()
            if not line:
                break
            if "listening on" in line:
                seen = True
                srv.send_signal(signal.SIGTERM)
                break
        if not seen:
            srv.kill()
            srv.wait()
            print("FAIL: round %d: no listening line" % i)
            sys.exit(1)
        try:
            srv.communicate(timeout=15)  # drains stderr, so the server never blocks on it
            rc = srv.returncode
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
            rc = "no exit within 15 s"
        if rc != 0:
            bad.append((i, rc))
    if bad:
        print("FAIL: SIGTERM right after the listening line: %d of %d rounds not a graceful "
              "exit 0: %s" % (len(bad), rounds, ", ".join("round %d: %s" % b for b in bad[:5])))
        sys.exit(1)
    print("ok: SIGTERM right after the listening line: exit 0 in %d of %d rounds"
          % (rounds, rounds))


main()
