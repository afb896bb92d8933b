#!/usr/bin/env python3
"""Robustness of the HTTP layer, measured (a benchmark-style run, not a test): one mcp-products
server (JWT + RBAC, SQLite store) on loopback, and

  1. oversize bodies: Content-Length past --max-body, and a chunked body past it (status, time);
  2. slow headers from one address: N connections that send half a request head and stop; how
     many the server keeps, and whether a caller from another loopback address is still served;
  3. 5,000 initialize requests from one principal while its working session is used between
     them: sessions created, 429s, and whether the working session ever answers 404;
  4. a soak: REQUESTS tools/call requests (wrk, stateless server) with the server's RSS sampled.

  bench/robustness.py [BUILD_DIR]        (default build-bench; needs mcp-products, mcp-admin,
                                          mcp-token, mcp-conformance-server, and wrk for the soak)
Env: REQUESTS=200000 SLOW=300 SESSIONS=5000 PORT=0. Prints one line per measurement.
"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build-bench")
BIN = os.path.join(BUILD, "bin")
REQUESTS = int(os.environ.get("REQUESTS", "200000"))
SLOW = int(os.environ.get("SLOW", "300"))
SESSIONS = int(os.environ.get("SESSIONS", "5000"))
TMP = tempfile.mkdtemp(prefix="mcp-robust-")
ISS = "https://issuer.robust.test"


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def start(prog, *args):
    err = open(os.path.join(TMP, os.path.basename(prog) + ".err"), "w+")
    p = subprocess.Popen([prog, "--listen", "127.0.0.1:0", *args], stdout=subprocess.DEVNULL,
                         stderr=err)
    for _ in range(200):
        err.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/mcp", err.read())
        if m:
            return p, int(m.group(1))
        if p.poll() is not None:
            err.seek(0)
            sys.exit("server exited: " + err.read())
        time.sleep(0.05)
    sys.exit("server did not start")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def post(port, body, headers, src="127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(src, 0))
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    h.update(headers)
    c.request("POST", "/mcp", body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    out = (r.status, dict((k.lower(), v) for k, v in r.getheaders()), data)
    c.close()
    return out


def main():
    db = os.path.join(TMP, "mcp.db")
    secret = os.path.join(TMP, "hs")
    run(os.path.join(BIN, "mcp-token"), "keygen", "--alg", "HS256", "--out", secret)
    run(os.path.join(BIN, "mcp-admin"), "--db", db, "user", "add", "uma", "--role", "user")
    srv, port = start(os.path.join(BIN, "mcp-products"), "--db", db, "--catalog",
                      os.path.join(TMP, "cat.db"), "--seed", "--auth", "jwt",
                      "--jwt-secret-file", secret + ".key", "--issuer", ISS,
                      "--no-access-log", "--max-body", "1048576")
    url = f"http://127.0.0.1:{port}/mcp"
    tok = run(os.path.join(BIN, "mcp-token"), "mint", "--secret-file", secret + ".key",
              "--sub", "uma", "--iss", ISS, "--aud", url, "--ttl", "3600").strip()
    auth = {"Authorization": "Bearer " + tok}
    try:
        oversize(port, auth)
        slow_headers(port, auth)
        sessions(port, auth)
    finally:
        srv.terminate()
        srv.wait(10)
    soak()


def oversize(port, auth):
    for size in (2 * 1048576, 64 * 1048576):
        t = time.monotonic()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall((f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
                   f"application/json\r\nAccept: application/json, text/event-stream\r\n"
                   f"Authorization: {auth['Authorization']}\r\n"
                   f"Content-Length: {size}\r\n\r\n").encode())
        resp = s.recv(4096).decode(errors="replace")
        s.close()
        print(f"oversize Content-Length {size}: {resp.split(chr(13))[0]} "
              f"in {1000 * (time.monotonic() - t):.1f} ms (body never sent)")
    for total in (1536 * 1024, 8 * 1048576):
        chunked(port, auth, total)


def chunked(port, auth, total):
    """A chunked body of total bytes against the 1 MiB limit: all of it is sent, then the answer
    is read (the server drains at most as much again as the limit, then closes)."""
    t = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall((f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
               f"\r\nAccept: application/json, text/event-stream\r\n"
               f"Authorization: {auth['Authorization']}\r\n"
               "Transfer-Encoding: chunked\r\n\r\n").encode())
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    sent = 0
    try:
        while sent < total:
            s.sendall(chunk)
            sent += 65536
        s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    status = ""
    try:
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        lines = [x for x in data.decode(errors="replace").split("\r\n") if x.startswith("HTTP/")]
        status = " then ".join(lines) or "closed without an answer"
    except OSError as e:
        status = f"closed ({e.__class__.__name__})"
    s.close()
    print(f"oversize chunked, {total} bytes offered (limit 1 MiB): {status}; {sent} bytes sent, "
          f"{1000 * (time.monotonic() - t):.1f} ms")


def slow_headers(port, auth):
    socks, kept = [], 0
    for _ in range(SLOW):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
            socks.append(s)
        except OSError:
            pass
    time.sleep(0.5)
    for s in socks:                      # the server closed the ones past the per-address cap
        s.setblocking(False)
        try:
            kept += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            kept += 1
        except OSError:
            pass
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}})
    h = dict(auth)
    h.update({"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"})
    t = time.monotonic()
    st, _, _ = post(port, body, h, src="127.0.0.2")
    other = 1000 * (time.monotonic() - t)
    try:
        t = time.monotonic()
        st1, _, _ = post(port, body, h)
        same = f"{st1} in {1000 * (time.monotonic() - t):.1f} ms"
    except OSError as e:
        same = f"refused ({e.__class__.__name__})"
    print(f"slow headers: {len(socks)} half-sent heads from 127.0.0.1, {kept} kept open by the "
          f"server; a request from 127.0.0.2: {st} in {other:.1f} ms; "
          f"a 2026 request from 127.0.0.1: {same}")
    for s in socks:
        s.close()


def sessions(port, auth):
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "robust", "version": "1"}}})
    h = dict(auth)
    st, hd, _ = post(port, init, h)
    work = hd.get("mcp-session-id")
    ping = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"})
    wh = dict(auth)
    wh.update({"Mcp-Session-Id": work, "MCP-Protocol-Version": "2025-11-25"})
    created, limited, other, lost = 0, 0, 0, 0
    t = time.monotonic()
    for i in range(SESSIONS):
        st, hd, _ = post(port, init, h)
        if st == 200:
            created += 1
        elif st == 429:
            limited += 1
        else:
            other += 1
        if i % 50 == 0:
            st, _, _ = post(port, ping, wh)
            lost += st != 200
    st, _, _ = post(port, ping, wh)
    print(f"sessions: {SESSIONS} initialize from one principal in "
          f"{time.monotonic() - t:.1f} s: {created} created, {limited} got 429, {other} other; "
          f"working session pinged {SESSIONS // 50 + 1} times: {lost} failures, last ping {st}")


def soak():
    srv, port = start(os.path.join(BIN, "mcp-conformance-server"), "--stateless",
                      "--no-access-log")
    lua = os.path.join(TMP, "call.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                'wrk.headers["Accept"] = "application/json, text/event-stream"\n'
                'wrk.body = \'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
                '"params":{"name":"test_simple_text","arguments":{}}}\'\n')
    try:
        samples = [rss_kib(srv.pid)]
        done = 0
        while done < REQUESTS:
            out = subprocess.run(["wrk", "-t2", "-c50", "-d5s", "-s", lua,
                                  f"http://127.0.0.1:{port}/mcp"], capture_output=True,
                                 text=True).stdout
            m = re.search(r"(\d+) requests in", out)
            n = int(m.group(1)) if m else 0
            if n == 0:
                print("soak: wrk made no requests:\n" + out)
                break
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            if non2xx:
                print(f"soak: {non2xx.group(1)} non-2xx answers")
            done += n
            samples.append(rss_kib(srv.pid))
        print(f"soak: {done} requests; server RSS KiB at start and after each 5 s: "
              f"{' '.join(map(str, samples))}")
    finally:
        srv.terminate()
        srv.wait(10)


if __name__ == "__main__":
    main()
