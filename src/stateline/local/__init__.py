"""Running the whole architecture on one machine.

``redis_cluster`` (the embedded Redis Cluster), ``supervisor`` (``stateline
up``: start, watch, restart, scale, stop), ``control`` (the control socket and
its client) and the small pieces they share: ``procs``, ``topology``,
``restart_policy``, ``specs``, ``managed``, ``redis_nodes``, ``health``,
``lock``, ``table``. See docs/operations.md.
"""
