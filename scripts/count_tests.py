#!/usr/bin/env python3
"""Sums test results from a meson testlog.json into "passed failed".

A cmocka program counts as its own test cases (its "[  PASSED  ] N test(s)."
and "[  FAILED  ] N test(s)" lines); any other test, such as an integration
script, counts as one. A cmocka program that crashed before its summary
counts as one failure, so a crash is never lost in the sum."""
import json
import re
import sys

passed = failed = 0
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            # cmocka prints its summary to stderr, its cases to stdout
            out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
            tap_ok = len(re.findall(r"^ok \d+", out, re.M))
            tap_bad = len(re.findall(r"^not ok \d+", out, re.M))
            if tap_ok or tap_bad:
                passed += tap_ok
                failed += tap_bad
                if t.get("result") not in ("OK", "SKIP") and not tap_bad:
                    failed += 1
                continue
            p = re.findall(r"^\[  PASSED  \] (\d+) test", out, re.M)
            fl = re.findall(r"^\[  FAILED  \] (\d+) test", out, re.M)
            ok = t.get("result") == "OK"
            if p or fl:
                passed += sum(int(x) for x in p)
                failed += sum(int(x) for x in fl)
                if not ok and not fl:
                    failed += 1
            elif ok:
                passed += 1
            elif t.get("result") != "SKIP":
                failed += 1
print(passed, failed)
