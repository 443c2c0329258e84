"""``cdp report``: one self-contained HTML file of charts over the marts (docs/report.md)."""
