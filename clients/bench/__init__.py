"""``iomodels bench``: every model against every workload, the experiments beside, one report.

A newcomer opens :mod:`clients.bench.claims` first (every claim the bench checks, judged
once), then follows a run: :mod:`~clients.bench.cli` (options, the lock, Ctrl-C),
:mod:`~clients.bench.workloads` and :mod:`~clients.bench.targets` (what runs against
what), :mod:`~clients.bench.harness` (one run), :mod:`~clients.bench.experiments`
(the programs beside the matrix), :mod:`~clients.bench.measures` (how each figure is read),
and :mod:`~clients.bench.results` with :mod:`~clients.bench.render` (the pages, from the
same verdicts). docs/benchmark.md says the same for users.
"""
