"""HTML reports of experiment runs: one self-contained page per run, and an index of runs.

- :func:`write_run_report` writes ``<run>/report.html``: the experiment's title and description,
  how the run went (times, tasks computed and reused, environment, config), the summary, every
  figure of ``figures/`` and, when the results have one, the sample browser
  (:mod:`interprim.report.samples`). Images are embedded as ``data:`` URIs and the CSS and
  JavaScript inline, so the page opens with no network access and can be sent as one file.
  Every run writes it (:func:`interprim.experiments.runner.report` re-renders it).
- :func:`write_index` (``interprim report DIR [DIR ...]``) rewrites the page of each run and
  writes an index that links them with relative links; by default ``report.html`` in the nearest
  folder that holds every run (the folder of ``run all``, or the parent of a single run).

The pages are Jinja2 templates shipped in ``interprim/report/templates`` (autoescaped).
"""

from .index import write_index
from .run import write_run_report

__all__ = ["write_index", "write_run_report"]
