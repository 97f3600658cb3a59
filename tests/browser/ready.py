"""Waiting until a page has done its own loading, by what the page shows, not by the network
going quiet (a request that never ends would hang "networkidle"; one that ends early would pass it).

Ready: the load event fired, every htmx part asked for at load has been swapped in (none left with
``hx-trigger="load"``, none in flight), and each map of sites (``#map``, the plan's ``#plan-map``) has drawn its markers (their
scripts set ``data-markers`` once they have).
"""

from __future__ import annotations

READY = """() => document.readyState === 'complete'
    && !document.querySelector('[hx-trigger="load"], .htmx-request')
    && [...document.querySelectorAll('#map, #plan-map')].every(m => m.dataset.markers !== undefined)"""


def wait_until_ready(page, timeout_ms: float = 30_000) -> None:
    page.wait_for_function(READY, timeout=timeout_ms)
