"""A stand-in for an app instance or the gateway, for driving the supervisor alone.

It answers ``GET /_stateline/health`` like the real processes and exits on
SIGTERM. A file named ``crash`` in the data dir makes it exit at once with
code 3: that is how the crash-loop test makes a process that never stays up. The real app and
gateway are exercised by tests/e2e; these keep supervisor tests fast and about
the supervisor.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    port = int(sys.argv[sys.argv.index("--port") + 1])
    ident = sys.argv[sys.argv.index("--id") + 1]
    data_dir = os.environ.get("STATELINE_DATA_DIR", "")
    if data_dir and os.path.exists(os.path.join(data_dir, "crash")):
        print("stand-in: crash file present, exiting", flush=True)
        sys.exit(3)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "instance": ident,
                               "redis": os.environ.get("STATELINE_REDIS_URL")}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
