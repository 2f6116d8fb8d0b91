"""The web UI's class picker starts with the classes this run was given, the others unticked.

``iomodels locust`` starts Locust with ``--class-picker`` (every user class of
the locustfile may be chosen in the start form) and names the classes that fit
the target (``WebsiteUser`` for HTTP, ``EchoUser`` for echo, or ``--classes``)
at the end of its command line, Locust's documented way to pick user classes.
Locust 2.x's picker ignores that choice and ticks every class, so pressing
Start against an HTTP server would also run ``EchoUser`` (raw bytes, all
failing). Locust seeds the ticks from the ``available_user_classes`` template
argument and lists the rows from ``users``: this plugin narrows the first to
the run's classes and leaves the second whole, so every class is still offered.
(The picker's "select all" box then selects the run's classes.)
"""

from __future__ import annotations

from typing import Any

from locust import events


def selected_class_names(environment: Any) -> list[str]:
    """The names of the classes this run was started with, sorted as Locust sorts them."""
    by_class = {cls: name for name, cls in (environment.available_user_classes or {}).items()}
    return sorted(by_class[cls] for cls in environment.user_classes if cls in by_class)


def narrow_initial_selection(web_ui: Any, environment: Any) -> None:
    """Make the picker's first ticks the run's classes, each time the page is rendered."""
    update = web_ui.update_template_args

    def update_template_args() -> None:
        update()
        selected = selected_class_names(environment)
        if selected and web_ui.template_args.get("available_user_classes"):
            web_ui.template_args["available_user_classes"] = selected

    web_ui.update_template_args = update_template_args
    update_template_args()


@events.init.add_listener
def on_init(environment: Any, **_: Any) -> None:
    if environment.web_ui is not None:
        narrow_initial_selection(environment.web_ui, environment)
