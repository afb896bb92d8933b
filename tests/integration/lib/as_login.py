#!/usr/bin/env python3
"""Sign in on the embedded authorization server's /authorize page without a browser.

    as_login.py AUTHORIZE_URL USER [ACTION]   (the password on standard input)

Loads the page (keeping its CSRF cookie), posts the form back with every hidden field plus the
credentials, and prints the Location the server redirects to (the client's callback with the
code, state and iss). Exit 1 when the page or the redirect is missing. Loopback only: the test
that runs it points it at its own server.
"""
import html.parser, http.cookiejar, sys, urllib.parse, urllib.request


class Form(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and "name" in a:
            self.fields.append((a["name"], a.get("value", "")))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    url, user = sys.argv[1], sys.argv[2]
    action = sys.argv[3] if len(sys.argv) > 3 else "allow"
    password = sys.stdin.readline().rstrip("\n")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(url, timeout=10).read().decode("utf-8")
    form = Form()
    form.feed(page)
    if not form.fields:
        print("as_login: no form on the page", file=sys.stderr)
        return 1
    target = urllib.parse.urljoin(url, "/authorize")
    body = urllib.parse.urlencode(form.fields + [("username", user), ("password", password),
                                                 ("action", action)]).encode()
    req = urllib.request.Request(target, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    try:
        opener.open(req, timeout=20)
    except urllib.error.HTTPError as e:
        loc = e.headers.get("Location")
        if e.code in (302, 303) and loc:
            print(loc)
            return 0
        print(f"as_login: sign-in answered {e.code}", file=sys.stderr)
        return 1
    print("as_login: no redirect after sign-in", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
