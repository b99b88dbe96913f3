"""One module per service from the seed; each exposes ``routes`` (a list of Starlette routes).

Stateless: ``calc``, ``currency`` (rates are SQL data), ``images`` (originals in the
blob store). State in the stateful tier: ``users`` (SQL), ``carts``, ``counter``,
``sessions``, ``players`` (Redis). ``demo`` is the deliberate bad example.
"""
