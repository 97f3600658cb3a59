"""Importers for files and clouds: Elan City SQLite exports, Traffic Logix SafePace JSON and API,
Toronto "Watch Your Speed" binned summaries, and generic per-vehicle CSV.

Per-vehicle sources end in :func:`collector.store.write_passes` with stable keys; binned sources
end in ``binned_counts`` with a unique ``(source, source_key)``. Either way a re-import stores
nothing new. Importers never commit: they call ``after_batch`` between batches so the caller can
commit (and draw progress); each returns an :class:`~collector.importers.report.ImportSummary`.
"""
