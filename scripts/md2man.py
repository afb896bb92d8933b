#!/usr/bin/env python3
"""Turn one docs/cli/*.md page into a man page (roff, man macros).

    md2man.py IN.md OUT.N NAME SECTION VERSION

The pages are written for GitHub first; this handles the subset they use: "#"/"##"/"###"
headings, paragraphs, fenced code blocks, "|" tables, "-" and "1." lists, **bold**, `code`,
[text](link) and <https://...>. The first heading is the title; "## NAME" is kept as the
whatis line ("name - summary"), so `man -k` and `whatis` find the page.
"""
import re
import sys


def esc(text):
    """Escape roff specials in running text."""
    text = text.replace("\\", "\\e")
    text = text.replace("-", "\\-")
    return text


def inline(text):
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)           # links: keep the text
    out = []
    # split into code spans and the rest; code and bold become \fB...\fR / \fI...\fR
    for i, part in enumerate(re.split(r"(`[^`]*`)", text)):
        if i % 2 == 1:
            out.append("\\fB" + esc(part[1:-1]) + "\\fR")
            continue
        part = esc(part)
        part = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", part)
        part = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", part)
        out.append(part)
    line = "".join(out)
    return line


# Characters past ASCII: groff's named glyphs (every device and locale has them), else plain
# ASCII, else \[uXXXX] (a UTF-8 device only).
GLYPHS = {"\u2014": "\\(em", "\u2013": "\\(en", "\u2192": "\\(->", "\u2190": "\\(<-",
          "\u2265": "\\(>=", "\u2264": "\\(<=", "\u2260": "\\(!=", "\u00d7": "\\(mu",
          "\u2022": "\\(bu", "\u2026": "...", "\u2018": "'", "\u2019": "'", "\u201c": '"',
          "\u201d": '"', "\u00a0": "\\ ", "\u2011": "-", "\u2010": "-"}


def ascii_only(text):
    return "".join(c if ord(c) < 128 else GLYPHS.get(c, "\\[u%04X]" % ord(c)) for c in text)


def line_out(text):
    """One output line; a leading '.' or quote would be read as a request."""
    if text.startswith((".", "'")):
        return "\\&" + text
    return text


def convert(src, name, section, version):
    lines = src.split("\n")
    out = ['.TH "%s" "%s" "" "libmcp %s" "libmcp manual"' % (name.upper(), section, version)]
    i = 0
    in_name = False
    para_open = False

    def flush_para():
        nonlocal para_open
        para_open = False

    while i < len(lines):
        ln = lines[i]
        if ln.startswith("```"):
            i += 1
            out.append(".PP")
            out.append(".nf")
            out.append(".RS 4")
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(line_out(esc(lines[i])))
                i += 1
            out.append(".RE")
            out.append(".fi")
            i += 1
            flush_para()
            continue
        m = re.match(r"^(#+)\s+(.*)$", ln)
        if m:
            level, title = len(m.group(1)), m.group(2).strip()
            flush_para()
            if level == 1:
                i += 1
                continue                      # the .TH line carries the title
            if level == 2:
                in_name = title.upper() == "NAME"
                out.append('.SH "%s"' % esc(re.sub(r"`", "", title.upper())))
            else:
                out.append('.SS "%s"' % esc(re.sub(r"`", "", title)))
            i += 1
            continue
        if ln.strip() == "---":
            i += 1
            continue
        if ln.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.match(r"^:?-+:?$", c) for c in cells if c):
                    rows.append(cells)
                i += 1
            flush_para()
            for r, cells in enumerate(rows):
                if r == 0:
                    out.append(".PP")
                    out.append(line_out("\\fB" + inline(" | ".join(cells)) + "\\fR"))
                    continue
                out.append(".TP")
                out.append(line_out(inline(cells[0])))
                out.append(line_out(inline(" \u2014 ".join(c for c in cells[1:] if c))))
            continue
        m = re.match(r"^(\s*)([-*]|\d+\.)\s+(.*)$", ln)
        if m:
            flush_para()
            bullet = "\\(bu" if m.group(2) in "-*" else m.group(2)
            text = [m.group(3)]
            i += 1
            while (i < len(lines) and lines[i].strip() and lines[i].startswith("  ")
                   and not re.match(r"^\s*([-*]|\d+\.)\s+", lines[i])):
                text.append(lines[i].strip())
                i += 1
            out.append('.IP "%s" 4' % bullet)
            out.append(line_out(inline(" ".join(text))))
            continue
        if not ln.strip():
            flush_para()
            i += 1
            continue
        if in_name:
            # "`mcp-admin` — manage ..." -> the whatis line "mcp-admin \- manage ..."
            text = [ln.strip()]
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].startswith("#"):
                text.append(lines[i].strip())
                i += 1
            whole = " ".join(text).replace("`", "")
            whole = re.sub(r"\s+[\u2014\u2013]\s+|\s+--?\s+", " - ", whole, count=1)
            _, _, rest = whole.partition(" - ")
            # the page's own name first, as whatis and `man -k` expect
            out.append(line_out(esc(name) + " \\- " + inline(rest if rest else whole)))
            continue
        if not para_open:
            out.append(".PP")
            para_open = True
        out.append(line_out(inline(ln.strip())))
        i += 1
    return "\n".join(ascii_only(l) for l in out) + "\n"


def main():
    if len(sys.argv) != 6:
        sys.stderr.write("usage: md2man.py IN.md OUT NAME SECTION VERSION\n")
        return 2
    src, dst, name, section, version = sys.argv[1:]
    try:
        with open(src, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        sys.stderr.write("md2man.py: %s: %s\n" % (src, e.strerror))
        return 1
    page = convert(text, name, section, version)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
