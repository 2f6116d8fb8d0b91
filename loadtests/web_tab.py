"""The plugin's place in Locust's web UI: a tab with live charts, a chart page and a CSV download.

Locust's modern UI renders extra tabs as tables from ``template_args``
(``extended_tabs`` / ``extended_tables``) filled by an ``extended_stats``
entry in each ``/stats/requests`` answer; a table cell holds only text (the
trend column is a sparkline). The charts come from a small script added to
the UI's page (:data:`TAB_SCRIPT`): while the "Server & loader" tab is open it
fetches ``/server-stats/charts`` (the SVG charts, drawn here from the samples)
every :data:`REFRESH_MS` and shows them above the table. The same charts are on
``/server-stats`` (a page of its own) and in the HTML report.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from loadtests.report_section import charts_html, inject, live_page, verdict_html
from loadtests.samples import COLUMNS, METRICS
from loadtests.svg_chart import sparkline

TAB = "iomodels"
CHARTS_ID = "iomodels-charts"
REFRESH_MS = 2000

#: shows the charts in the tab: finds the tab's table, puts a box above it, refills it while the tab is open
TAB_SCRIPT = f"""(() => {{
  const tabOpen = () => new URLSearchParams(location.search).get("tab") === "{TAB}";
  const tabTable = () => [...document.querySelectorAll("th")]
    .find((th) => th.textContent === "Figure")?.closest(".MuiTableContainer-root, table");
  async function refresh() {{
    let box = document.getElementById("{CHARTS_ID}");
    const table = tabOpen() && tabTable();
    if (!table) {{ box?.remove(); return; }}
    if (!box || box.nextElementSibling !== table) {{
      box?.remove();
      box = document.createElement("div");
      box.id = "{CHARTS_ID}";
      box.style.cssText = "background:#fff;color:#222;padding:8px;margin-bottom:12px;border-radius:4px";
      table.before(box);
    }}
    try {{
      const answer = await fetch("./server-stats/charts", {{cache: "no-store"}});
      if (answer.ok) box.innerHTML = await answer.text();
    }} catch (error) {{ /* the next tick tries again */ }}
  }}
  setInterval(refresh, {REFRESH_MS});
  addEventListener("popstate", refresh);
  document.addEventListener("click", () => setTimeout(refresh, 50));
  refresh();
}})();
"""


def table_rows(plugin: Any) -> list[dict[str, str]]:
    """One row per figure: now, min, mean, max over the current test, and a sparkline."""
    rows = []
    for key, label, unit in METRICS:
        values = plugin.series(key)
        if not values:
            rows.append(
                {"metric": label, "now": "n/a", "low": "", "mean": "", "high": "", "trend": ""}
            )
            continue
        rows.append(
            {
                "metric": label,
                "now": f"{values[-1]:g}{unit}",
                "low": f"{min(values):g}",
                "mean": f"{sum(values) / len(values):.1f}",
                "high": f"{max(values):g}",
                "trend": sparkline(values),
            }
        )
    summary = plugin.loader.summary()
    verdict = "YES: Locust is the bottleneck" if summary["loader_bound"] else "no"
    rows.append(
        {
            "metric": "loader-bound (this test)",
            "now": verdict,
            "low": "",
            "mean": f"{summary['loader_saturated_share'] * 100:.0f}% of samples saturated",
            "high": "",
            "trend": "",
        }
    )
    if plugin.probe.error:
        rows.append(
            {
                "metric": "server probe",
                "now": plugin.probe.error,
                "low": "",
                "mean": "",
                "high": "",
                "trend": "",
            }
        )
    return rows


def samples_csv(plugin: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for sample in plugin.samples:
        writer.writerow(sample.row())
    return out.getvalue()


def install_web_tab(environment: Any, plugin: Any) -> None:
    """Add the tab, the routes and the report section to ``environment.web_ui``."""
    from flask import Response, request

    web_ui = environment.web_ui
    app = web_ui.app
    web_ui.template_args.update(
        {
            "extended_tabs": [{"title": "Server & loader", "key": TAB}],
            "extended_tables": [
                {
                    "key": TAB,
                    "structure": [
                        {"key": "metric", "title": "Figure"},
                        {"key": "now", "title": "Now"},
                        {"key": "low", "title": "Min"},
                        {"key": "mean", "title": "Mean"},
                        {"key": "high", "title": "Max"},
                        {"key": "trend", "title": "Trend"},
                    ],
                }
            ],
            "extended_csv_files": [
                {"href": "./server-stats/csv", "title": "Download server & loader samples CSV"},
                {"href": "./server-stats", "title": "Server & loader charts (live page)"},
            ],
        }
    )

    @app.after_request
    def add_server_stats(response: Response) -> Response:
        if (request.endpoint or "").endswith("index") and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            tag = '<script src="./server-stats/tab.js"></script>'
            if tag not in page:
                response.set_data(page.replace("</body>", tag + "</body>", 1))
        elif request.path.endswith("/stats/requests") and response.is_json:
            doc = response.get_json()
            extended = [e for e in doc.get("extended_stats", []) if e.get("key") != TAB]
            doc["extended_stats"] = [*extended, {"key": TAB, "data": table_rows(plugin)}]
            response.set_data(json.dumps(doc))
        elif request.path.endswith("/stats/report") and response.mimetype == "text/html":
            response.set_data(inject(response.get_data(as_text=True), plugin))
        return response

    @app.route("/server-stats")
    def server_stats_page() -> Response:
        return Response(live_page(plugin), mimetype="text/html")

    @app.route("/server-stats/charts")
    def server_stats_charts() -> Response:
        return Response(verdict_html(plugin) + charts_html(plugin), mimetype="text/html")

    @app.route("/server-stats/tab.js")
    def server_stats_script() -> Response:
        return Response(TAB_SCRIPT, mimetype="text/javascript")

    @app.route("/server-stats/csv")
    def server_stats_csv() -> Response:
        return Response(
            samples_csv(plugin),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment;filename=server_stats.csv"},
        )

    @app.route("/server-stats/json")
    def server_stats_json() -> Response:
        return Response(
            json.dumps({"summary": plugin.summary(), "rows": table_rows(plugin)}),
            mimetype="application/json",
        )
