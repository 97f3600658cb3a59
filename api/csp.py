"""The Content-Security-Policy header of every response (set by :class:`api.middleware.Edge`):
nothing from another origin.

Scripts, styles, fonts and images come from the server itself; the only exception is the map's
tile server when ``web.tiles_url`` is set (its origin joins ``img-src``). The pages carry no inline
script. Swagger UI at ``/docs`` is started by one inline script that FastAPI writes, so that one
path also allows inline script — still from no other origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

INLINE_SCRIPT_PATHS = frozenset({"/docs"})


def tile_origin(tiles_url: str | None) -> str | None:
    """``https://host[:port]`` of a tile URL template, or None."""
    if not tiles_url:
        return None
    parts = urlsplit(tiles_url.replace("{s}", "a"))
    host = parts.netloc
    if "{s}" in tiles_url:  # Leaflet's subdomain placeholder: allow every subdomain of the host
        host = "*." + host.split(".", 1)[1] if "." in host else host
    return f"{parts.scheme}://{host}"


def policy(tiles_url: str | None, *, inline_script: bool = False) -> str:
    """The header value."""
    img = "'self' data:"
    origin = tile_origin(tiles_url)
    if origin:
        img += " " + origin
    script = "'self' 'unsafe-inline'" if inline_script else "'self'"
    return "; ".join((
        "default-src 'self'", f"script-src {script}", "style-src 'self'", f"img-src {img}",
        "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'self'",
        "form-action 'self'", "frame-ancestors 'none'"))
