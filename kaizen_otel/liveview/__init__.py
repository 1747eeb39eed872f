"""The live view: recent agent runs kept in memory and shown at ``/ui`` beside ``/metrics``.

See docs/live-view.md. :class:`LiveStore` is fed from span ends and by a log processor;
:class:`LiveApp` answers the page's and the JSON API's routes on the one HTTP server.
"""

from __future__ import annotations

from typing import Any

from kaizen_otel.liveview.app import LiveApp, is_loopback
from kaizen_otel.liveview.store import LiveStore, Run

__all__ = ["LiveApp", "LiveStore", "Run", "is_loopback", "plan"]


def plan(settings: Any, serving: bool) -> tuple[LiveStore | None, str | None]:
    """The store to feed for ``settings`` and the refusal to answer with instead, if any.

    ``serving``: the HTTP server will run. No store without it (nobody could read it), and none
    when the server binds a non-loopback address without ``live_view_allow_remote``: the routes
    then answer 403 naming that setting.
    """
    if not settings.live_view or not serving or not settings.enable_tracing:
        return None, None
    if not is_loopback(settings.prometheus_host) and not settings.live_view_allow_remote:
        return None, (
            f"the live view is not served on {settings.prometheus_host!r}, a non-loopback address: "
            "it shows agent activity to anyone who can reach this port. Set live_view_allow_remote "
            "(KAIZEN_OTEL_LIVE_VIEW_ALLOW_REMOTE=true) to serve it there."
        )
    store = LiveStore(
        max_runs=settings.live_view_runs,
        max_bytes=settings.live_view_max_bytes,
        capture_content=settings.capture_message_content,
        budgets={
            "run_usd": settings.budget_run_usd,
            "run_tokens": settings.budget_run_tokens,
            "process_usd": settings.budget_process_usd,
            "process_tokens": settings.budget_process_tokens,
            "enforce": settings.budget_enforce,
        },
    )
    return store, None
