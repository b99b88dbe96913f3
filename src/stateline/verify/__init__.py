"""`stateline verify`: the dynamic twin of `stateline lint`.

Where lint reads code, verify runs it: one request script replayed against one
replica, round robin across replicas, and across restarts, reporting the first
answer that depends on which process served it. One concept per module:

- `script`: loading, checking and rendering request scripts (pure);
- `http`: the replay's own cookie jar and one exchange per step;
- `compare`: what counts as "the same answer" (volatile and relative fields);
- `spawn`: replicas started from `--spawn 'CMD {port}'`, or given as URLs;
- `replay`: the three modes and the first difference;
- `report`: text and JSON output;
- `commands`: the `stateline verify` command line.
"""
