"""The API gateway: listener, routing, balancing, upstream pools (see docs/gateway.md).

Importing the package first decides whether the hot data-plane modules run
compiled or as pure Python (:mod:`stateline.gateway.native`).
"""

from stateline.gateway import native

native.select()
