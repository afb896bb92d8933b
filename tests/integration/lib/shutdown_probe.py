#!/usr/bin/env python3
"""New connections are refused while a shutdown waits for a handler (used by core_shutdown.sh).

  shutdown_probe.py SERVER_BINARY

Starts the server on 127.0.0.1:0 and opens a session on a keep-alive connection A. Connection B
calls test_sampling: the handler sends sampling/createMessage on B's SSE stream and waits for
the answer, so it holds the server in its shutdown grace period for as long as we do not answer.
Then SIGTERM, and while the server is alive and the handler still waits:
  - a NEW connection must get no HTTP answer (refused, reset or no response within 1.5 s);
then the sampling answer goes over the already open connection A, the handler finishes, B
receives the tool result, the server exits 0, and a connection after the exit is refused.
Prints "ok: ..." lines; any failure prints "FAIL: ..." and exits 1.
"""
import http.client
import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

H = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    srv = subprocess.Popen([sys.argv[1], "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE,
                           text=True)
    try:
        run(srv)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


def stderr_lines(srv):
    """The server's stderr lines on a queue (None at its end), so every wait has a deadline."""
    q = queue.Queue()

    def pump():
        for line in srv.stderr:
            q.put(line)
        q.put(None)
    threading.Thread(target=pump, daemon=True).start()
    return q


def wait_line(q, pattern, seconds):
    """The first line matching pattern within seconds, or None (also at the end of stderr)."""
    deadline = time.time() + seconds
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        try:
            line = q.get(timeout=left)
        except queue.Empty:
            return None
        if line is None:
            return None
        m = re.search(pattern, line)
        if m:
            return m


def run(srv):
    lines = stderr_lines(srv)
    # the listening line (sanitizer notes may come first)
    m = wait_line(lines, r"listening on http://127\.0\.0\.1:(\d+)/mcp", 10)
    if not m:
        fail("server did not start within 10 s")
    port = int(m.group(1))

    def conn(timeout=10):
        return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    a = conn()
    a.request("POST", "/mcp", json.dumps({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {"sampling": {}},
                   "clientInfo": {"name": "shutdown-probe", "version": "1"}}}), H)
    r = a.getresponse()
    r.read()
    sid = r.getheader("Mcp-Session-Id")
    if r.status != 200 or not sid:
        fail("initialize: %d, session %r" % (r.status, sid))
    hs = dict(H, **{"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"})
    a.request("POST", "/mcp", json.dumps({"jsonrpc": "2.0",
                                          "method": "notifications/initialized"}), hs)
    r = a.getresponse()
    r.read()
    if r.status != 202:
        fail("notifications/initialized: %d" % r.status)

    b = conn()
    b.request("POST", "/mcp", json.dumps({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "test_sampling", "arguments": {"prompt": "hold"}}}), hs)
    rb = b.getresponse()
    if rb.status != 200 or not rb.getheader("Content-Type", "").startswith("text/event-stream"):
        fail("tools/call: %d %s" % (rb.status, rb.getheader("Content-Type")))
    ask = None
    while ask is None:
        line = rb.readline().decode()
        if not line:
            fail("the stream ended before the sampling request")
        if line.startswith("data: ") and "sampling/createMessage" in line:
            ask = json.loads(line[6:])

    # the handler now waits for us: shut down
    srv.send_signal(signal.SIGTERM)
    # wait until the listener has stopped accepting (the line comes after MHD_quiesce_daemon;
    # probing before it would race the quiesce)
    if not wait_line(lines, "no longer accepting connections", 5):
        fail("no 'no longer accepting connections' line within 5 s of SIGTERM")

    t0 = time.time()
    served = None
    try:
        c = conn(timeout=1.5)
        c.request("POST", "/mcp", json.dumps({"jsonrpc": "2.0", "id": 9, "method": "ping"}), H)
        rc = c.getresponse()
        served = "%d %s" % (rc.status, rc.read()[:200])
    except (OSError, http.client.HTTPException) as e:
        how = type(e).__name__
    if served is not None:
        fail("a new connection was served during shutdown: HTTP " + served)
    if srv.poll() is not None:
        fail("the server exited before the probe; the probe proved nothing")
    print("ok: a new connection during the grace period got no answer (%s after %.1f s)"
          % (how, time.time() - t0))

    # the session's open connection still works: answer, and the held handler completes
    a.request("POST", "/mcp", json.dumps({
        "jsonrpc": "2.0", "id": ask["id"],
        "result": {"role": "assistant", "content": {"type": "text", "text": "held"},
                   "model": "probe", "stopReason": "endTurn"}}), hs)
    r = a.getresponse()
    r.read()
    if r.status != 202:
        fail("sampling answer on the open connection during shutdown: %d" % r.status)
    result = None
    while result is None:
        line = rb.readline().decode()
        if not line:
            fail("the held call's stream ended without its result")
        if line.startswith("data: ") and '"id":2' in line.replace(" ", ""):
            result = json.loads(line[6:])
    text = result.get("result", {}).get("content", [{}])[0].get("text")
    if text != "LLM response: held":
        fail("held call result: %s" % json.dumps(result))
    print("ok: the in-flight handler finished during the grace period")
    a.close()
    b.close()
    try:
        rc = srv.wait(timeout=15)
    except subprocess.TimeoutExpired:
        fail("the server did not exit after its last handler finished")
    if rc != 0:
        fail("server exit status %d" % rc)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        fail("a connection after the exit was accepted")
    except ConnectionRefusedError:
        pass
    print("ok: exit 0, then connections are refused")


main()
