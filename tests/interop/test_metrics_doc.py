#!/usr/bin/python3
"""docs/metrics.md lists exactly the metrics the server exposes: every
name in /metrics (from its # HELP lines) has a row in the doc, and every
row names a metric the server still exposes. The media and ICE metrics are
registered at start, so an idle dev server shows them all.

    CHORUS_BUILD_DIR=build /usr/bin/python3 tests/interop/test_metrics_doc.py
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chorus_server as cs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def documented(text):
    """Metric names in the doc's table rows: | `name` | type | meaning |."""
    return set(re.findall(r"^\| `([a-z_:][a-z0-9_:]*)` \| (?:counter|gauge|histogram) \|", text, re.M))


def exposed(text):
    return set(re.findall(r"^# HELP ([a-z_:][a-z0-9_:]*) ", text, re.M))


def main():
    with open(os.path.join(ROOT, "docs", "metrics.md")) as f:
        doc = documented(f.read())
    assert len(doc) > 10, "docs/metrics.md: no metric rows found (%s)" % sorted(doc)
    with cs.ChorusServer(dev=True, media_interfaces="127.0.0.1") as server:
        status, _, body = server.http_get("/metrics")
        assert status == 200, status
        served = exposed(body)
    assert len(served) > 10, "no # HELP lines in /metrics"
    missing = sorted(served - doc)
    gone = sorted(doc - served)
    for name in missing:
        print("not ok - %s is exposed but not in docs/metrics.md" % name)
    for name in gone:
        print("not ok - %s is in docs/metrics.md but the server does not expose it" % name)
    if missing or gone:
        sys.exit(1)
    print("ok - docs/metrics.md lists all %d metrics /metrics exposes" % len(served))


if __name__ == "__main__":
    main()
