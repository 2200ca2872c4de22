"""Local HTTP stand-ins for the tests: a threading server started in the background, and stopped."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler: type[BaseHTTPRequestHandler], name: str, port: int = 0) -> ThreadingHTTPServer:
    """`handler` on 127.0.0.1:`port` (0: a free port), answering from a daemon thread named `name`."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


def shut(server: ThreadingHTTPServer | None) -> None:
    """Stop serving and close the socket; nothing to do for a server never started."""
    if server is not None:
        server.shutdown()
        server.server_close()
