"""HTML pages, one module per area, rendered from ``api/templates`` with the one catalogue (``core/i18n``)."""
