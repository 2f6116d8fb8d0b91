"""The web UI's class picker starts with the classes this run was given ticked, the others offered.

``iomodels locust`` starts Locust with ``--class-picker`` (every user class of
the locustfile may be chosen in the start form) and names the classes that fit
the target (``WebsiteUser`` for HTTP, ``EchoUser`` for echo, or ``--classes``)
at the end of its command line, Locust's documented way to pick user classes.
Locust 2.x's picker ignores that choice and ticks every class, so pressing
Start against an HTTP server would also run ``EchoUser`` (raw bytes, all
failing). The picker seeds its ticks and its "select all" box from the same
template argument (``available_user_classes``): narrowing it would tick the
select-all box with one class of five, and make it select that one only. So
the argument stays whole and a small script (:data:`UNTICK_SCRIPT`, added to
the page) unticks the other classes each time a picker appears, through the
picker's own click handler: the select-all box then shows "some" and selects
every class.
"""

from __future__ import annotations

import json
from typing import Any

from locust import events

MARK = "data-iomodels-picked"

#: unticks, once per picker shown, every ticked class the run was not given
UNTICK_SCRIPT = """(() => {
  const keep = new Set(%s);
  function untick() {
    for (const row of document.querySelectorAll("tbody tr")) {
      const cells = row.querySelectorAll("td");
      const box = row.querySelector("input[type=checkbox]");
      if (cells.length < 2 || !box || row.closest("table").hasAttribute("%s")) continue;
      const name = cells[1].textContent;
      if (!keep.has(name)) { if (box.checked) box.click(); }
    }
    for (const table of document.querySelectorAll("table")) {
      if (table.querySelector("tbody input[type=checkbox]")) table.setAttribute("%s", "");
    }
  }
  new MutationObserver(untick).observe(document.documentElement, {childList: true, subtree: true});
  untick();
})();
"""


def selected_class_names(environment: Any) -> list[str]:
    """The names of the classes this run was started with, sorted as Locust sorts them."""
    by_class = {cls: name for name, cls in (environment.available_user_classes or {}).items()}
    return sorted(by_class[cls] for cls in environment.user_classes if cls in by_class)


def untick_script(classes: list[str]) -> str:
    """The page's script for a run of ``classes``."""
    return UNTICK_SCRIPT % (json.dumps(classes), MARK, MARK)


def add_untick_script(web_ui: Any, environment: Any) -> None:
    """Add the script to the web UI's page (only when the run was given some of the classes)."""
    from flask import Response, request

    @web_ui.app.after_request
    def add_script(response: Response) -> Response:
        selected = selected_class_names(environment)
        offered = environment.available_user_classes or {}
        if not selected or len(selected) == len(offered):
            return response
        if (request.endpoint or "").endswith("index") and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            tag = f'<script id="iomodels-picker">{untick_script(selected)}</script>'
            if 'id="iomodels-picker"' not in page:
                response.set_data(page.replace("</body>", tag + "</body>", 1))
        return response


@events.init.add_listener
def on_init(environment: Any, **_: Any) -> None:
    if environment.web_ui is not None:
        add_untick_script(environment.web_ui, environment)
