#!/usr/bin/env python3
"""Strict reader of the Prometheus text exposition format (0.0.4), for the tests.

usage: prom_parse.py FILE [QUERY...]
Exits 1 with the offending line on any deviation: an unknown line form, a bad metric or label
name, a bad escape, a value that is not a float, a TYPE after its family's samples or given
twice, a family's samples not contiguous, a duplicate series, a histogram whose buckets are not
cumulative, lack +Inf, or whose +Inf bucket differs from _count, a missing final newline.
Each QUERY is a series like 'name{a="b"}' (labels in any order); its value is printed, one per
line, or "absent".
"""
import re
import sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LNAME = r'[a-zA-Z_][a-zA-Z0-9_]*'
LVAL = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^(' + NAME + r')(\{(' + LNAME + r'=' + LVAL + r'(?:,' + LNAME + r'='
                    + LVAL + r')*)?\})? ([^ ]+)( -?[0-9]+)?$')
LABEL = re.compile(r'(' + LNAME + r')=(' + LVAL + r')')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


def fail(n, line, why):
    sys.stderr.write('prometheus text, line %d: %s: %r\n' % (n, why, line))
    sys.exit(1)


def value(s):
    if s in ('+Inf', '-Inf', 'NaN'):
        return float(s.replace('Inf', 'inf').replace('NaN', 'nan'))
    if not re.match(r'^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$', s):
        raise ValueError(s)
    return float(s)


def unesc(v):
    return v[1:-1].replace('\\n', '\n').replace('\\"', '"').replace('\\\\', '\\')


def family(name, types):
    for suf in ('_bucket', '_sum', '_count'):
        if name.endswith(suf) and types.get(name[:-len(suf)]) in ('histogram', 'summary'):
            return name[:-len(suf)]
    return name


def main():
    text = open(sys.argv[1], encoding='utf-8').read()
    if text and not text.endswith('\n'):
        fail(0, text[-40:], 'no final newline')
    types, helps, seen, done, series = {}, set(), set(), set(), {}
    current = None
    for n, line in enumerate(text.split('\n')[:-1], 1):
        if line.startswith('#'):
            m = re.match(r'^# (HELP|TYPE) (' + NAME + r') (.*)$', line)
            if not m:
                if line.startswith('# HELP') or line.startswith('# TYPE'):
                    fail(n, line, 'malformed HELP/TYPE')
                continue                                    # a comment
            kind, name, rest = m.groups()
            if kind == 'TYPE':
                if rest not in TYPES:
                    fail(n, line, 'unknown type')
                if name in types or name in seen:
                    fail(n, line, 'TYPE given twice or after samples')
                types[name] = rest
            else:
                if name in helps:
                    fail(n, line, 'HELP given twice')
                helps.add(name)
            continue
        if line == '':
            fail(n, line, 'empty line')
        m = SAMPLE.match(line)
        if not m:
            fail(n, line, 'not a sample line')
        name, _, labels, val = m.group(1), m.group(2), m.group(3), m.group(4)
        try:
            v = value(val)
        except ValueError:
            fail(n, line, 'value is not a float')
        lab = {}
        for lm in LABEL.finditer(labels or ''):
            if lm.group(1) in lab:
                fail(n, line, 'label given twice')
            lab[lm.group(1)] = unesc(lm.group(2))
        fam = family(name, types)
        if fam != current:
            if fam in done:
                fail(n, line, 'samples of a family not contiguous')
            if current is not None:
                done.add(current)
            current = fam
        seen.add(fam)
        key = (name, tuple(sorted(lab.items())))
        if key in series:
            fail(n, line, 'duplicate series')
        if types.get(fam) == 'counter' and v < 0:
            fail(n, line, 'negative counter')
        series[key] = v
    for fam, t in types.items():
        if t != 'histogram':
            continue
        groups = {}
        for (name, lab), v in series.items():
            d = dict(lab)
            if name == fam + '_bucket':
                if 'le' not in d:
                    fail(0, name, 'bucket without le')
                le = value(d.pop('le'))
                groups.setdefault(tuple(sorted(d.items())), []).append((le, v))
        for rest, buckets in groups.items():
            buckets.sort()
            if buckets[-1][0] != float('inf'):
                fail(0, fam, 'histogram without a +Inf bucket')
            for a, b in zip(buckets, buckets[1:]):
                if b[1] < a[1]:
                    fail(0, fam, 'buckets not cumulative')
            cnt = series.get((fam + '_count', rest))
            if cnt is None or (fam + '_sum', rest) not in series or cnt != buckets[-1][1]:
                fail(0, fam, '_count missing or not the +Inf bucket')
    for q in sys.argv[2:]:
        m = re.match(r'^(' + NAME + r')(?:\{(.*)\})?$', q)
        lab = tuple(sorted((a, unesc(b)) for a, b in LABEL.findall(m.group(2) or '')))
        v = series.get((m.group(1), lab))
        print('absent' if v is None else ('%g' % v))


main()
