"""The public transparency site (issue 11): read-only pages, feeds and open data.

- `worker.web.readmodel`: the queries (and `worker.web.models` the types) every page,
  feed and export renders; the only place that decides what is public.
- `worker.web.app`: the Starlette application (`create_app`), pages and error pages.
- `worker.web.feeds`, `worker.web.exports`: iCalendar/Atom feeds and JSON/CSV exports,
  each exposing `routes` that `create_app` mounts.
- `worker.web.settings`: `WebSettings` (`CIVICFLOW_WEB_*`); `worker.web.server`: `serve`.
"""
