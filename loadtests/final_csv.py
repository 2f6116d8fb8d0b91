"""Locust's CSV files, written one last time when the run ends.

Locust rewrites ``<prefix>_stats.csv`` (and the failures and exceptions files)
once a second and never after the last requests: a 5 s run's CSV counted 8,548
requests while ``stats.json``, written at exit, counted 9,903.

The final write must come after the runner has stopped and before
``--json-file`` is saved, because saving it resets every entry's counters
(``RequestStats.serialize_stats`` hands out stripped reports, as it does for a
worker's reports): Locust's own writer, closing its files after that, would
write zeros. So :func:`install` puts :class:`FinalCSVFileWriter` in place of
Locust's writer (before Locust's ``main`` creates one) and has the JSON saver
call it first; without ``--json-file`` the final write happens when Locust
closes the CSV files.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import locust.stats
from locust.stats import StatsCSVFileWriter

_writers: weakref.WeakSet[FinalCSVFileWriter] = weakref.WeakSet()


class FinalCSVFileWriter(StatsCSVFileWriter):
    """Locust's CSV writer, plus one final write of every file as the run ends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.final_written = False
        _writers.add(self)

    def close_files(self) -> None:
        self.write_final()
        super().close_files()

    def write_final(self) -> None:
        """Rewrite stats, failures and exceptions in full and append a history row (once)."""
        if self.final_written or self.requests_csv_filehandle.closed:
            return
        self.final_written = True
        for handle, writer, header, rows in (
            (
                self.requests_csv_filehandle,
                self.requests_csv_writer,
                self.requests_csv_columns,
                self._requests_data_rows,
            ),
            (
                self.failures_csv_filehandle,
                self.failures_csv_writer,
                self.failures_columns,
                self._failures_data_rows,
            ),
            (
                self.exceptions_csv_filehandle,
                self.exceptions_csv_writer,
                self.exceptions_columns,
                self._exceptions_data_rows,
            ),
        ):
            handle.seek(0)
            writer.writerow(header)
            rows(writer)
            handle.truncate()
            handle.flush()
        self._stats_history_data_rows(self.stats_history_csv_writer, time.time())
        self.stats_history_csv_filehandle.flush()


def _final_csv_then_json(save_json: Any) -> Any:
    def save_stats_json(stats: Any, filename: str) -> None:
        for writer in list(_writers):
            writer.write_final()
        save_json(stats, filename)

    return save_stats_json


def install() -> None:
    """Have Locust's ``main`` create :class:`FinalCSVFileWriter` for ``--csv``, and write it before the JSON."""
    if locust.stats.StatsCSVFileWriter is FinalCSVFileWriter:
        return
    locust.stats.StatsCSVFileWriter = FinalCSVFileWriter  # type: ignore[misc]
    locust.stats.save_stats_json = _final_csv_then_json(locust.stats.save_stats_json)
