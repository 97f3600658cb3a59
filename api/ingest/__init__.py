"""Uploads from signs over HTTP: request shapes, bounded body reading and the group commit
that lets concurrent uploads share one write-path transaction."""
