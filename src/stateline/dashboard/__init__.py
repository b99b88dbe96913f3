"""The dashboard ``stateline up`` serves on loopback: a live page of the whole topology.

:mod:`.metrics` reads the gateway's Prometheus text, :mod:`.snapshot` gathers one
picture of everything once a second, :mod:`.server` serves the page, the
snapshot stream (SSE) and the token-guarded controls.
"""
