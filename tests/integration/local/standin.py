"""A stand-in for an app instance or the gateway, for driving the supervisor alone.

It answers ``GET /_stateline/health`` like the real processes and exits on
SIGTERM. Files in the data dir change its behaviour, one per test need:

- ``crash``: exit at once with code 3 (a process that never stays up);
- ``unready``: an app answers health 503 with the same ``detail`` forever, as
  a real app does when its database URL is wrong, after a dozen log lines;
- ``slow-drain``: the gateway takes a second to exit after SIGTERM, as a real
  one finishing its requests in flight would.

Every stand-in logs when SIGTERM arrived and when it exits, so tests can read
the order of a shutdown from the logs. The real app and gateway are exercised
by tests/e2e; these keep supervisor tests fast and about the supervisor.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    port = int(sys.argv[sys.argv.index("--port") + 1])
    ident = sys.argv[sys.argv.index("--id") + 1]
    data_dir = os.environ.get("STATELINE_DATA_DIR", "")

    def flag(name: str) -> bool:
        return bool(data_dir) and os.path.exists(os.path.join(data_dir, name))

    if flag("crash"):
        print("stand-in: crash file present, exiting", flush=True)
        sys.exit(3)
    unready = ident != "gateway" and flag("unready")
    if unready:
        for n in range(1, 13):
            print(f"stand-in {ident}: start-up line {n}", flush=True)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if unready:
                body = json.dumps({"status": "starting", "instance": ident, "detail":
                                   "stores not reachable yet: ConnectionRefusedError(111)"})
                self.send_response(503)
            else:
                body = json.dumps({"status": "ok", "instance": ident,
                                   "redis": os.environ.get("STATELINE_REDIS_URL")})
                self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    def on_sigterm(*_: object) -> None:
        print(f"stand-in {ident}: SIGTERM at {time.time():.3f}", flush=True)
        if ident == "gateway" and flag("slow-drain"):
            time.sleep(1.0)
        print(f"stand-in {ident}: exit at {time.time():.3f}", flush=True)
        sys.exit(0)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, on_sigterm)
    server.serve_forever()


if __name__ == "__main__":
    main()
