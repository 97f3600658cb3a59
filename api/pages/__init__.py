"""HTML pages, one module per area, rendered from ``api/templates`` with the one catalogue."""
