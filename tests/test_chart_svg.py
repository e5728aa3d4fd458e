"""The SVG a chart draws: every element the chart holds, and every word escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kapclinic.platform.charts import Chart

SVG = "{http://www.w3.org/2000/svg}"


def drawn(chart: Chart) -> ET.Element:
    # our own markup, not untrusted input
    return ET.fromstring(str(chart.svg).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))  # noqa: S314


def test_a_chart_draws_its_lines_markers_rules_and_legend_in_one_svg():
    chart = Chart("vitals-chart", label="Heart rate", grid=True)
    chart.value_x(0, 60)
    chart.value_y(40, 160)
    chart.line([0, 30, 60], [70, 90, 80], "vital-line", colour="#1a5fb4", key="hr", title="Heart rate")
    for x, y in ((0, 70), (30, 90)):
        chart.marker(x, y, "vital-dot", title=f"Heart rate {y} at {x} min")
    chart.rule(120, "vital-threshold", title="Alert threshold", label="HR > 120")
    chart.legend_entry("Heart rate", "#1a5fb4")
    svg = drawn(chart)
    assert svg.get("aria-label") == "Heart rate"
    [line] = svg.iter(f"{SVG}polyline")
    assert line.get("data-series") == "hr" and len(line.get("points").split()) == 3
    assert [c.get("cy") for c in svg.iter(f"{SVG}circle")] == [f"{chart.y(70):.1f}", f"{chart.y(90):.1f}"]
    assert "HR > 120" in [t.text for t in svg.iter(f"{SVG}text")]
    assert len([g for g in svg.iter(f"{SVG}line") if g.get("class") == "grid"]) == len(chart.y_ticks)


def test_words_in_a_chart_are_escaped():
    chart = Chart("c", title='Dose <b>"100"</b> & more', desc="<script>alert(1)</script>", id="x")
    chart.value_x(0, 1)
    chart.value_y(0, 1)
    chart.marker(0.5, 0.5, "dot", title="<img src=x onerror=alert(1)>", label="a&b")
    markup = str(chart.svg)
    assert "<script>" not in markup and "<img" not in markup and "<b>" not in markup
    svg = drawn(chart)
    assert svg.find(f"{SVG}desc").text == "<script>alert(1)</script>"
    assert svg.get("aria-labelledby") == "x-title x-desc"
