"""The report page: sections of figures and key numbers, rendered server-side as HTML, with
each chart's data as JSON and the charting code (charts.js) and style inlined. Nothing on
the page is fetched: it opens from a file, offline, in any browser."""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

from .data import Section

HERE = Path(__file__).parent
STATUS_COLORS = {"healthy": "#59a14f", "warning": "#edc948", "critical": "#e15759"}
SIGNALS = (("churn", "churn risk"), ("recency", "overdue orders"), ("support", "support tickets"),
           ("payment", "failed payments"))


def _n(value) -> str:
    return f"{round(value or 0):,}"


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _kpis(items: list[tuple[str, str, str]]) -> str:
    tiles = "".join(f'<div class="kpi" data-kpi="{key}"><span class="kpi-value">{html.escape(value)}</span>'
                    f'<span class="kpi-label">{html.escape(label)}</span></div>' for key, label, value in items)
    return f'<div class="kpis">{tiles}</div>'


def _figure(chart_id: str, caption: str, source: str) -> str:
    return (f'<figure class="chart" data-chart="{chart_id}" data-drawn="false" data-marks="0">'
            f'<figcaption>{html.escape(caption)} <span class="source">({html.escape(source)})</span></figcaption></figure>')


def _empty(text: str) -> str:
    return f'<p class="empty">{html.escape(text)}</p>'


def _health(section: Section, charts: dict) -> str:
    rows = section.data["by_status"]
    counts = {(r["health_status"], bool(r["is_customer"])): int(r["profiles"]) for r in rows}
    statuses = list(STATUS_COLORS)
    customers = sum(v for (s, c), v in counts.items() if c)
    parts = [_kpis([(f"customers_{s}", f"customers {s}", _n(counts.get((s, True), 0))) for s in statuses]
                   + [("prospects", "prospects (no order or subscription)", _n(sum(v for (s, c), v in counts.items()
                                                                                    if not c)))])]
    if not rows:
        return "".join(parts) + _empty("customer_health has no rows yet.")
    charts["health_status"] = {
        "kind": "bars", "horizontal": True, "stacked": True, "categories": ["customers", "prospects"],
        "series": [{"name": s, "color": STATUS_COLORS[s], "values": [counts.get((s, True), 0), counts.get((s, False), 0)]}
                   for s in statuses]}
    parts.append(_figure("health_status", f"Profiles by health; {customers:,} customers", "customer_health"))
    signals = section.data["signals"]
    charts["health_signals"] = {
        "kind": "bars", "categories": [label for _, label in SIGNALS],
        "series": [{"name": level, "color": STATUS_COLORS[level],
                    "values": [signals[f"{key}_{level}"] for key, _ in SIGNALS]} for level in ("warning", "critical")]}
    note = "" if signals["scored_profiles"] else "; churn risk not scored yet (the predictions asset has not run)"
    parts.append(_figure("health_signals", f"Profiles per signal at warning and critical{note}", "customer_health"))
    return "".join(parts)


def _segments(section: Section, charts: dict) -> str:
    sizes, overlap = section.data["sizes"], section.data["overlap"]
    if not sizes:
        return _empty("segment_sizes has no rows yet: define a segment in segments/ and build.")
    parts = [_kpis([("segments", "segments", _n(len(sizes))),
                    ("segment_members", "memberships", _n(sum(r["member_count"] for r in sizes)))])]
    charts["segment_sizes"] = {"kind": "bars", "horizontal": True, "categories": [r["segment_name"] for r in sizes],
                               "series": [{"name": "members", "values": [r["member_count"] for r in sizes]}]}
    parts.append(_figure("segment_sizes", "Members per segment at the latest build", "segment_sizes"))
    # Empty segments overlap nothing: they would be blank rows and columns.
    names = [r["segment_name"] for r in sizes if r["member_count"]]
    by_pair = {(r["segment_a"], r["segment_b"]): r for r in overlap}
    size = {r["segment_name"]: r["member_count"] for r in sizes}
    values, labels = [], []
    for a in names:
        row_values, row_labels = [], []
        for b in names:
            if a == b:
                row_values.append(1.0 if size[a] else None)
                row_labels.append(f"{size[a]:,}" if size[a] else "")
            else:
                pair = by_pair.get((a, b))
                share = pair["share_of_a_in_b"] if pair else None
                row_values.append(share)
                row_labels.append("" if share is None else f"{share:.0%}")
        values.append(row_values)
        labels.append(row_labels)
    if any(v is not None for row in values for v in row):
        charts["segment_overlap"] = {"kind": "heatmap", "rows": names, "cols": names, "values": values,
                                     "labels": labels, "format": "pct", "max": 1, "labelWidth": 200, "cell": 52,
                                     "rotateCols": True, "rowTitle": "members of", "colTitle": "share also in"}
        empty = [r["segment_name"] for r in sizes if not r["member_count"]]
        parts.append(_figure("segment_overlap", "Overlap: share of the row segment's members also in the column "
                             "segment (diagonal: size)" + (f"; empty, left out: {', '.join(empty)}" if empty else ""),
                             "segment_overlap"))
    else:
        parts.append(_empty("No segment has members, so there is no overlap to show."))
    return "".join(parts)


def _rfm(section: Section, charts: dict) -> str:
    cells = section.data["cells"]
    if not cells:
        return _empty("profile_rfm has no rows: no profile has an order yet.")
    grid = {(r["recency_score"], r["frequency_score"]): r for r in cells}
    recency = [5, 4, 3, 2, 1]
    frequency = [1, 2, 3, 4, 5]
    values = [[grid[(r, f)]["customers"] if (r, f) in grid else None for f in frequency] for r in recency]
    labels = [[f"{grid[(r, f)]['customers']:,}" if (r, f) in grid else "" for f in frequency] for r in recency]
    charts["rfm_grid"] = {"kind": "heatmap", "rows": [f"R{r}" for r in recency], "cols": [f"F{f}" for f in frequency],
                          "values": values, "labels": labels, "labelWidth": 60, "cell": 56,
                          "rowTitle": "recency score", "colTitle": "frequency score"}
    customers = sum(r["customers"] for r in cells)
    return (_kpis([("rfm_customers", "customers scored", _n(customers))])
            + _figure("rfm_grid", "Customers per recency x frequency score (5 = most recent, most frequent; "
                      "equal values share a score, so some columns can be empty)", "profile_rfm"))


def _identity(section: Section, charts: dict) -> str:
    d = section.data
    parts = [_kpis([("profiles", "profiles", _n(d["profiles"])), ("records", "person records", _n(d["records"])),
                    ("merge_rate", "merge rate (records joined to another's profile)", _pct(d["merge_rate"])),
                    ("quarantined_values", "identifier values quarantined or blocked", _n(d["quarantined_values"])),
                    ("merge_events", "merge and split events", _n(sum(r["events"] for r in d["merge_events"])))])]
    if d["histogram"]:
        categories = [f"{r['records_per_profile']}{'+' if r['records_per_profile'] >= 6 else ''}" for r in d["histogram"]]
        charts["identity_records_per_profile"] = {
            "kind": "bars", "categories": categories,
            "series": [{"name": "profiles", "values": [r["profiles"] for r in d["histogram"]]}]}
        parts.append(_figure("identity_records_per_profile", "Profiles by number of person records merged into them",
                             "profiles"))
    if d["quarantine"]:
        types = sorted({r["identifier_type"] for r in d["quarantine"]})
        statuses = sorted({r["status"] for r in d["quarantine"]})
        counts = {(r["identifier_type"], r["status"]): r["identifier_values"] for r in d["quarantine"]}
        charts["identity_quarantine"] = {
            "kind": "bars", "horizontal": True, "stacked": True, "categories": types, "labelWidth": 120,
            "series": [{"name": s, "values": [counts.get((t, s), 0) for t in types]} for s in statuses]}
        parts.append(_figure("identity_quarantine", "Identifier values kept from linking, by type and status",
                             "identity_quarantine"))
    else:
        parts.append(_empty("No identifier value is quarantined or blocked."))
    return "".join(parts)


def _quality(section: Section, charts: dict) -> str:
    points = section.data["points"]
    if not points:
        return _empty("data_quality_scores has no rows yet.")
    series: dict[str, list] = {}
    for p in points:
        if p["quality_score"] is not None:
            series.setdefault(p["source_name"], []).append([p["measured_at"], round(p["quality_score"], 2)])
    latest = {name: pts[-1][1] for name, pts in series.items()}
    builds = len({p["measured_at"] for p in points})
    if builds > 1:
        low = min(v for pts in series.values() for _, v in pts)
        charts["quality_trend"] = {"kind": "lines", "format": "score", "yMax": 100, "yMin": max(0, 10 * int(low // 10) - 10),
                                   "series": [{"name": name, "points": pts} for name, pts in sorted(series.items())]}
        caption = "Quality score (0-100) per source, one point per measurement"
    else:
        # One measurement is a point, not a trend: show it as bars until the next build adds one.
        names = sorted(latest, key=lambda n: -latest[n])
        charts["quality_trend"] = {"kind": "bars", "horizontal": True, "format": "score", "labelWidth": 120,
                                   "categories": names, "series": [{"name": "score", "values": [latest[n] for n in names]}]}
        caption = (f"Quality score (0-100) per source at the only measurement so far ({points[0]['measured_at'][:10]}); "
                   "each build adds a point to the trend")
    kpis = [(f"quality_{name}", f"{name} score", f"{score:.1f}") for name, score in sorted(latest.items())
            if name in ("all_sources", "profiles")]
    return (_kpis(kpis + [("quality_builds", "measurements", _n(builds))])
            + _figure("quality_trend", caption, "data_quality_scores"))


def _funnel(section: Section, charts: dict) -> str:
    steps = section.data["steps"]
    if not steps:
        return _empty("funnel_steps_daily has no rows yet.")
    parts = []
    for index, name in enumerate(dict.fromkeys(s["funnel_name"] for s in steps)):
        rows = [s for s in steps if s["funnel_name"] == name]
        first = rows[0]["profiles"] or 0
        categories = [f"{r['step_number']}. {r['step_name']} ({_pct(r['profiles'] / first if first else None)})"
                      for r in rows]
        chart_id = "funnel" if index == 0 else f"funnel_{index + 1}"
        charts[chart_id] = {"kind": "bars", "horizontal": True, "labelWidth": 300, "categories": categories,
                            "series": [{"name": "profiles", "values": [r["profiles"] for r in rows]}]}
        parts.append(_figure(chart_id, f"Funnel {name}: profiles reaching each step within the window "
                             "(share of step 1), all days and channels", "funnel_steps_daily"))
    return "".join(parts)


def _cohorts(section: Section, charts: dict) -> str:
    cells = section.data["cells"]
    if not cells:
        return _empty("cohort_retention has no rows yet.")
    months = sorted({c["cohort_month"][:7] for c in cells})
    offsets = sorted({int(c["months_since_acquisition"]) for c in cells})
    grid = {(c["cohort_month"][:7], int(c["months_since_acquisition"])): c for c in cells}
    values = [[grid[(m, o)]["active_rate"] if (m, o) in grid else None for o in offsets] for m in months]
    sizes = {m: next(c["cohort_size"] for c in cells if c["cohort_month"][:7] == m) for m in months}
    charts["cohort_heatmap"] = {"kind": "heatmap", "rows": [f"{m} ({sizes[m]:,})" for m in months],
                                "cols": [str(o) for o in offsets], "values": values, "format": "pct", "max": 1,
                                "labelWidth": 130, "cell": 38, "rowTitle": "cohort (size)",
                                "colTitle": "months since acquisition"}
    return _figure("cohort_heatmap", "Share of each monthly acquisition cohort active N months later",
                   "cohort_retention")


def _attribution(section: Section, charts: dict) -> str:
    rows = section.data["rows"]
    if not rows:
        return _empty("attribution_by_channel has no rows yet.")
    models = list(dict.fromkeys(r["attribution_model"] for r in rows))
    totals: dict[str, float] = {}
    for r in rows:
        totals[r["channel"]] = totals.get(r["channel"], 0) + (r["attributed_revenue"] or 0)
    channels = sorted(totals, key=lambda c: -totals[c])
    revenue = {(r["attribution_model"], r["channel"]): r["attributed_revenue"] or 0 for r in rows}
    charts["attribution_by_model"] = {
        "kind": "bars", "format": "money", "categories": channels,
        "series": [{"name": m, "values": [round(revenue.get((m, c), 0), 2) for c in channels]} for m in models]}
    per_model = {m: sum(v for (mm, _), v in revenue.items() if mm == m) for m in models}
    return (_kpis([(f"attributed_{m}", f"{m} revenue", f"${per_model[m]:,.0f}") for m in models[:3]])
            + _figure("attribution_by_model", "Revenue credited to each channel, by attribution model",
                      "attribution_by_channel"))


def _journeys(section: Section, charts: dict) -> str:
    paths = section.data["paths"]
    if not paths:
        return _empty("journey_paths has no rows yet.")
    rows = "".join(f"<tr><td>{html.escape(str(p['path']))}</td><td class='num'>{_n(p['converted_profiles'])}</td>"
                   f"<td class='num'>{_pct(p['share_of_converters'])}</td>"
                   f"<td class='num'>{'' if p['median_days_to_first_purchase'] is None else round(p['median_days_to_first_purchase'], 1)}</td></tr>"
                   for p in paths)
    return ("<table class='paths' data-table='journey_paths'><thead><tr><th>path to first purchase</th>"
            "<th>customers</th><th>share</th><th>median days</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


RENDERERS = {"health": _health, "segments": _segments, "rfm": _rfm, "identity": _identity, "quality": _quality,
             "funnel": _funnel, "cohorts": _cohorts, "attribution": _attribution, "journeys": _journeys}


def render(sections: list[Section], source: str, generated_at: dt.datetime | None = None) -> str:
    """The whole page as one HTML string."""
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    charts: dict[str, dict] = {}
    body = []
    for section in sections:
        if section.built and section.error:
            content = (f'<p class="missing">could not read {html.escape(", ".join(section.marts))}: '
                       f'{html.escape(section.error)}; rebuild it with <code>cdp build</code>.</p>')
            state = "error"
        elif section.built:
            content = RENDERERS[section.key](section, charts)
            state = "built"
        else:
            missing = ", ".join(section.missing)
            content = (f'<p class="missing">mart {html.escape(missing)} not built: run <code>cdp build</code> '
                       f'(or <code>dbt build -s {html.escape(section.missing[0])}</code>) and render the report again.</p>')
            state = "missing"
        body.append(f'<section id="{section.key}" data-section="{section.key}" data-state="{state}" '
                    f'data-marts="{" ".join(section.marts)}"><h2>{html.escape(section.title)}</h2>{content}</section>')
    # "</" inside a script element would end it early; JSON allows the escaped form.
    payload = json.dumps({"charts": charts}, separators=(",", ":")).replace("</", "<\\/")
    nav = "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CDP report</title>
<style>
{(HERE / "report.css").read_text()}
</style>
</head>
<body>
<header><h1>CDP report</h1>
<p class="meta">From {html.escape(source)}; generated {generated_at:%Y-%m-%d %H:%M} UTC by <code>cdp report</code>.</p>
<nav>{nav}</nav></header>
<main>
{"".join(body)}
</main>
<script type="application/json" id="report-data">{payload}</script>
<script>
{(HERE / "charts.js").read_text()}
</script>
</body>
</html>
"""
