"""The rooms service: a deliberately stateful pool of shard processes.

Each room's authoritative state lives in the memory of exactly one shard,
which holds a lease on it in Redis (with a fencing token), appends every
change to a durable per-room log before acknowledging it, and snapshots the
room to the blob store now and then. Another shard reactivates the room from
snapshot + log when the owner dies or the pool's membership moves it. See
docs/shards.md for when this is the right design and what it costs.
"""

#: The registry pool shards register in, and the gateway's second pool.
POOL = "shards"
