"""Setting up signs and sites: the use cases that the CLI (``fartkoll site|limit|sign|token|tip``)
and the API (``/api/v1`` set-up routes) both call.

Each use case is one function ``fn(conn, *, actor, ...) -> Model`` returning a pydantic model
whose JSON is the same from ``--json`` and from the API. Functions never commit (the caller owns
the transaction), never read the clock (``at``/``now`` are arguments) and raise
:mod:`core.errors` classes. Every change writes an audit row naming ``actor``.

Modules: :mod:`.places` (police areas, municipalities, streets, sites), :mod:`.limits`,
:mod:`.signs`, :mod:`.deployments`, :mod:`.sign_tokens`, :mod:`.tips`; :mod:`.refs` finds sites
and signs by what a person typed; :mod:`.audit` writes the audit row.
"""
