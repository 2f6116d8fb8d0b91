"""Tables, charts and provenance for every report: the bench, the Locust comparison, crawl-bench.

A small API over plain data, nothing specific to one report:

* :mod:`reporting.formats`: numbers as the tables print them (``fmt_num``, ``fmt_ms``...);
* :mod:`reporting.tables`: GitHub markdown and rich tables, references marked;
* :mod:`reporting.styles`: one colour and marker per model (and per reference),
  the same in every chart;
* :mod:`reporting.charts`: PNG charts (matplotlib's Agg backend, imported only
  when a chart is drawn): bars that show floors and a second client's figure,
  latency percentiles, lines;
* :mod:`reporting.provenance`: which commit, when, on what machine.

Example::

    from reporting.charts import Bar, bar_chart
    from reporting.formats import fmt_num
    from reporting.tables import markdown_table

    rows = [["uvloop", fmt_num(71234)], ["ref-aiohttp", fmt_num(45000)]]
    print(markdown_table(["server", "req/s"], rows))
    bar_chart("rps.png", "hello", [Bar("uvloop", 71234, floor=True), Bar("ref-aiohttp", 45000)], "req/s")
"""
