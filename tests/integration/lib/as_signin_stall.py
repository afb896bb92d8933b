#!/usr/bin/env python3
"""Does a sign-in stall other requests? (issue 12: the scrypt check runs off the IO thread)

    as_signin_stall.py ORIGIN CLIENT_ID REDIRECT_URI USER N   (the password on standard input)

Loads the sign-in form once, times one sign-in alone (t1), then posts N sign-ins at once and,
30 ms later, times a GET of the metadata (tg) while they run. Prints "t1=... tg=... ok=...";
exit 0 when tg < 2 * t1 (with one IO thread and the hash on it, tg would be about (N-1) * t1),
and every sign-in was answered with a redirect. Loopback only.
"""
import hashlib, base64, html.parser, http.client, sys, threading, time, urllib.parse


class Form(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and "name" in a:
            self.fields.append((a["name"], a.get("value", "")))


def conn(host, port):
    return http.client.HTTPConnection(host, port, timeout=30)


def main():
    origin, client, redirect, user, n = sys.argv[1:6]
    n = int(n)
    password = sys.stdin.readline().rstrip("\n")
    u = urllib.parse.urlsplit(origin)
    host, port = u.hostname, u.port
    verifier = base64.urlsafe_b64encode(b"v" * 40).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()
    q = urllib.parse.urlencode({"response_type": "code", "client_id": client,
                                "redirect_uri": redirect, "code_challenge": challenge,
                                "code_challenge_method": "S256", "state": "s"})
    c = conn(host, port)
    c.request("GET", "/authorize?" + q)
    r = c.getresponse()
    page = r.read().decode()
    cookie = (r.getheader("Set-Cookie") or "").split(";")[0]
    form = Form()
    form.feed(page)
    if r.status != 200 or not form.fields or not cookie:
        print(f"no sign-in form ({r.status})", file=sys.stderr)
        return 1
    body = urllib.parse.urlencode(form.fields + [("username", user), ("password", password),
                                                 ("action", "allow")])
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    results = []

    def sign_in():
        t0 = time.monotonic()
        k = conn(host, port)
        k.request("POST", "/authorize", body=body, headers=hdrs)
        rr = k.getresponse()
        rr.read()
        results.append((rr.status, time.monotonic() - t0))
        k.close()

    sign_in()
    t1 = results[0][1]
    if results[0][0] != 303:
        print(f"sign-in answered {results[0][0]}", file=sys.stderr)
        return 1
    results.clear()
    threads = [threading.Thread(target=sign_in) for _ in range(n)]
    for t in threads:
        t.start()
    time.sleep(0.03)
    t0 = time.monotonic()
    g = conn(host, port)
    g.request("GET", "/.well-known/oauth-authorization-server")
    gr = g.getresponse()
    gr.read()
    tg = time.monotonic() - t0
    for t in threads:
        t.join()
    answered = all(s == 303 for s, _ in results) and len(results) == n and gr.status == 200
    ok = answered and tg < 2 * t1
    slowest = max(d for _, d in results) if results else 0
    print(f"t1={t1 * 1000:.1f}ms tg={tg * 1000:.1f}ms slowest_signin={slowest * 1000:.1f}ms "
          f"n={n} answered={answered} ok={ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
