#!/usr/bin/env python3
"""SIGTERM under load with slow handlers (used by faults_sigterm.sh).

  sigterm_load.py SERVER_BINARY

Starts the server on 127.0.0.1:0 and opens a session. Two test_sampling calls are held (their
handlers wait for a sampling answer that never comes, longer than the server's 10 s grace
period); 8 client threads loop over slow tools (test_tool_with_logging, test_tool_with_progress,
~100 ms each) and echo, half with `Accept: application/json` (the response is parked until the
handler ends), half with SSE, each request on a new connection. After 1 s of load: SIGTERM, and
the clients go on until the server has exited. Every request must end in one of:
  answered  HTTP 200 with the JSON-RPC response for its id (a result or an error);
  refused   the connection refused, or reset/closed before any byte of a response, or an HTTP
            error status with a JSON-RPC error body;
and never "broken": a response cut off (a status line, then no complete body or no JSON-RPC
response on the stream), or no answer within 25 s. The server must exit 0 within the grace
period plus 5 s. Prints the counts; exits 1 on any failure.
"""
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time

GRACE = float(__import__("os").environ.get("SIGTERM_GRACE", "10"))
H = {"Content-Type": "application/json", "MCP-Protocol-Version": "2025-11-25"}
lock = threading.Lock()
counts = {"answered": 0, "answered_error": 0, "refused_connect": 0, "refused_reset": 0,
          "refused_status": 0, "broken": 0}
broken = []


def note(kind, detail=None):
    with lock:
        counts[kind] += 1
        if kind == "broken":
            broken.append(detail)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def rpc_id_response(body, want_id, sse):
    """The JSON-RPC response for want_id in a JSON or SSE body, or None."""
    docs = []
    if sse:
        for line in body.splitlines():
            if line.startswith(b"data:"):
                docs.append(line[5:].strip())
    else:
        docs.append(body)
    for d in docs:
        try:
            m = json.loads(d)
        except ValueError:
            continue
        if isinstance(m, dict) and m.get("id") == want_id and ("result" in m or "error" in m):
            return m
    return None


def one_call(port, sid, rid, tool, args, sse):
    hs = dict(H, **{"Mcp-Session-Id": sid, "Connection": "close",
                    "Accept": "application/json, text/event-stream" if sse
                    else "application/json"})
    body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                       "params": {"name": tool, "arguments": args}})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=25)
    try:
        try:
            c.connect()
        except ConnectionRefusedError:
            note("refused_connect")
            time.sleep(0.01)                 # the listener is gone: do not spin
            return
        try:
            c.request("POST", "/mcp", body, hs)
            r = c.getresponse()
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            note("refused_reset")          # closed before any byte of a response
            return
        except socket.timeout:
            note("broken", "%s id %d: no response within 25 s" % (tool, rid))
            return
        try:
            data = r.read()
        except (http.client.IncompleteRead, ConnectionResetError, socket.timeout) as e:
            note("broken", "%s id %d: HTTP %d, body cut off (%s)" % (tool, rid, r.status,
                                                                    type(e).__name__))
            return
        ctype = r.getheader("Content-Type", "")
        m = rpc_id_response(data, rid, ctype.startswith("text/event-stream"))
        if r.status == 200 and m is not None:
            note("answered_error" if "error" in m or m["result"].get("isError") else "answered")
        elif r.status >= 400 and b'"error"' in data:
            note("refused_status")
        else:
            note("broken", "%s id %d: HTTP %d %s without its response: %r" %
                 (tool, rid, r.status, ctype, data[:200]))
    finally:
        c.close()


def main():
    log = open(sys.argv[2], "w") if len(sys.argv) > 2 else subprocess.DEVNULL
    srv = subprocess.Popen([sys.argv[1], "--listen", "127.0.0.1:0", "--workers", "6"],
                           stderr=subprocess.PIPE, text=True)
    try:
        run(srv, log)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


def run(srv, log):
    m = None
    for _ in range(50):
        line = srv.stderr.readline()
        if not line:
            break
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/mcp", line)
        if m:
            break
    if not m:
        fail("server did not start")
    port = int(m.group(1))
    lines = []

    def drain():
        for ln in srv.stderr:
            lines.append(ln)
            if log is not subprocess.DEVNULL:
                log.write(ln)
    threading.Thread(target=drain, daemon=True).start()

    a = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    a.request("POST", "/mcp", json.dumps({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {"sampling": {}},
                   "clientInfo": {"name": "sigterm-load", "version": "1"}}}),
        dict(H, Accept="application/json, text/event-stream"))
    r = a.getresponse()
    r.read()
    sid = r.getheader("Mcp-Session-Id")
    if r.status != 200 or not sid:
        fail("initialize: %d, session %r" % (r.status, sid))
    a.request("POST", "/mcp", json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
              dict(H, **{"Mcp-Session-Id": sid, "Accept": "application/json, text/event-stream"}))
    r = a.getresponse()
    r.read()
    a.close()

    # two handlers held past the grace period
    held = []
    for k in range(2):
        t = threading.Thread(target=one_call, args=(port, sid, 1000 + k, "test_sampling",
                                                    {"prompt": "hold"}, True))
        t.start()
        held.append(t)

    stop = threading.Event()
    seq = [2000]

    def client(n):
        tools = [("test_tool_with_logging", {}), ("test_tool_with_progress", {}),
                 ("echo", {"text": "x"})]
        i = 0
        while not stop.is_set():
            with lock:
                seq[0] += 1
                rid = seq[0]
            tool, args = tools[i % len(tools)]
            one_call(port, sid, rid, tool, args, sse=(n % 2 == 0))
            i += 1
            if srv.poll() is not None:
                # one more after the exit: must be refused at connect
                one_call(port, sid, rid + 100000, "echo", {"text": "x"}, sse=False)
                return

    clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in clients:
        t.start()
    time.sleep(1.0)
    with lock:
        before = dict(counts)
    if before["answered"] == 0:
        fail("no request answered before SIGTERM: %r" % before)
    t0 = time.time()
    srv.send_signal(signal.SIGTERM)
    # during the grace period (held handlers keep the server alive) a new connection is refused
    # at once, not parked unanswered in the listen backlog
    while time.time() < t0 + 5 and not any("no longer accepting" in ln for ln in lines):
        time.sleep(0.01)
    p0 = time.time()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        fail("a new connection was accepted during the grace period")
    except ConnectionRefusedError:
        pass
    except OSError as e:
        fail("a new connection during the grace period: %s after %.1f s, not refused"
             % (type(e).__name__, time.time() - p0))
    if srv.poll() is not None:
        fail("the server exited before the refusal probe; it proved nothing")
    print("new connection during the grace period refused in %.0f ms" % ((time.time() - p0) * 1000))
    try:
        rc = srv.wait(timeout=GRACE + 5)
    except subprocess.TimeoutExpired:
        stop.set()
        fail("the server did not exit within %.0f s of SIGTERM" % (GRACE + 5))
    took = time.time() - t0
    stop.set()
    for t in clients + held:
        t.join(30)
        if t.is_alive():
            fail("a client is still waiting 30 s after the server exited")
    print("before SIGTERM: %d answered" % before["answered"])
    print("server exit status %d, %.1f s after SIGTERM" % (rc, took))
    print("requests: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    for b in broken[:10]:
        print("broken: " + b)
    if rc != 0:
        fail("exit status %d; log tail: %s" % (rc, "".join(lines[-10:])))
    if counts["broken"]:
        fail("%d requests broken" % counts["broken"])
    print("ok: every request answered or refused cleanly, exit 0")


if __name__ == "__main__":
    main()
