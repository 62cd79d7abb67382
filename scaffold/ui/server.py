"""The `scaffold ui` server: the standard library's ThreadingHTTPServer on 127.0.0.1,
serving the page (static/) and the JSON API of api.py.

Safe by default, as Jupyter's server is. It listens on the loopback address only,
and answers 403 to any request
    without this run's random token: in the address it prints (?token=...) for the
        page and its files, then in the X-Scaffold-Token header on API calls;
    whose Host is not 127.0.0.1:PORT or localhost:PORT: a site whose name was made
        to point at 127.0.0.1 (DNS rebinding) sends its own name;
    whose Origin is another site: a page elsewhere posting to this port.
The token alone would stop both; the other checks hold if it ever leaked.

    GET  /api/schema    the registry and the options to start with
    POST /api/render    {options, path?, all?} -> file list, one file's text (or all)
    POST /api/create    {options} -> `scaffold new` into --output-dir
    POST /api/plan      {options} -> what `scaffold update` would do (`scaffold diff`)
    POST /api/update    {options} -> `scaffold update` of PATH
    POST /api/download  {options} -> the project as NAME.zip
Errors come back as {"error": "one line"}: 400 for what scaffold refuses.
"""

from __future__ import annotations

import hmac
import json
import secrets
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from scaffold.errors import ScaffoldError
from scaffold.ui import api
from scaffold.ui.api import PathRefused, Workspace

LOOPBACK = "127.0.0.1"
TOKEN_HEADER = "X-Scaffold-Token"
STATIC = Path(__file__).resolve().parent / "static"
# The page's files by URL path; nothing else under static/ is served.
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
}
TOKEN_MARK = "__TOKEN__"  # where index.html takes the token
INITIAL_MARK = "__INITIAL__"  # where it takes what it shows first
MAX_BODY = 1 << 20  # bytes; options are a few hundred
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The address holds the token: never send it on as a Referer.
    "Referrer-Policy": "no-referrer",
    # The page's own files only; nothing inline, nothing fetched from elsewhere.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; "
    "style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


class UiServer(ThreadingHTTPServer):
    daemon_threads = True  # a browser holding a connection open never blocks exit

    def __init__(self, workspace: Workspace, port: int = 0) -> None:
        self.workspace = workspace
        self.token = secrets.token_urlsafe(32)
        # What reads or writes the project runs one at a time (a plan never sees an
        # update half-swapped), and Ctrl-C waits for a write under way.
        self.disk = threading.Lock()
        super().__init__((LOOPBACK, port), Handler)
        self.trusted_hosts = {f"{LOOPBACK}:{self.port}", f"localhost:{self.port}"}
        self.trusted_origins = {f"http://{host}" for host in self.trusted_hosts}

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/?token={self.token}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a closed tab
            super().handle_error(request, client_address)


def start(output_dir: Path, project: Path | None, port: int = 0) -> UiServer:
    """A server bound to 127.0.0.1:port (0: a free one), not yet serving."""
    workspace = api.open_workspace(output_dir, project)
    try:
        return UiServer(workspace, port)
    except OSError as error:
        raise ScaffoldError(
            f"cannot listen on {LOOPBACK}:{port} ({error.strerror}); "
            "pass another --port, or none for a free one"
        ) from None


def serve(server: UiServer) -> None:
    """Serve until Ctrl-C, then let a write under way finish before closing."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        with server.disk:
            server.server_close()


def script_json(value: Any) -> bytes:
    """JSON to put inside a <script> element: ASCII, with no `<`, `>` or `&` that
    a file's text could use to close the element."""
    text = json.dumps(value)  # ensure_ascii: U+2028 and U+2029 escaped too
    for character in "<>&":
        text = text.replace(character, f"\\u{ord(character):04x}")
    return text.encode()


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server: UiServer
    server_version = "scaffold-ui"
    sys_version = ""
    timeout = 60  # seconds an idle connection may hold its thread

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def route(self, method: str) -> None:
        url = urlsplit(self.path)
        try:
            self.refuse_strangers(url)
            if method == "GET" and url.path in PAGE_FILES:
                self.send_page_file(url.path)
            elif method == "GET" and url.path == "/api/schema":
                self.send_json(200, api.schema(self.server.workspace))
            elif method == "POST" and url.path in POST_ROUTES:
                POST_ROUTES[url.path](self, self.read_json())
            else:
                raise HttpError(404, f"no {method} {url.path} here")
        except HttpError as error:
            self.send_json(error.status, {"error": str(error)})
        except PathRefused as error:
            self.send_json(403, {"error": str(error)})
        except ScaffoldError as error:
            self.send_json(400, {"error": str(error)})
        except OSError as error:  # as `scaffold new` reports one: a line, exit 1
            self.send_json(400, {"error": str(error)})
        # A bug: the page still gets one line, the terminal the traceback.
        except Exception as error:  # noqa: BLE001
            traceback.print_exc()
            self.send_json(500, {"error": f"internal error: {error!r}"})

    def refuse_strangers(self, url: SplitResult) -> None:
        """403 unless the request names this server, comes from its page (or no
        page) and carries the token."""
        host = (self.headers.get("Host") or "").lower()
        if host not in self.server.trusted_hosts:
            raise HttpError(403, f"refused: Host {host!r} is not this server")
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in self.server.trusted_origins:
            raise HttpError(403, f"refused: a request from {origin}")
        if url.path.startswith("/api/"):
            given = self.headers.get(TOKEN_HEADER, "")
        else:
            given = parse_qs(url.query).get("token", [""])[0]
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            raise HttpError(
                403, "refused: no valid token; open the address `scaffold ui` printed"
            )

    def read_json(self) -> dict[str, Any]:
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise HttpError(415, "send the request body as application/json")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise HttpError(411, "the request has no Content-Length") from None
        if not 0 <= length <= MAX_BODY:
            raise HttpError(413, f"the request body is over {MAX_BODY} bytes")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as error:
            raise HttpError(400, f"the request body is not JSON ({error})") from None
        if not isinstance(body, dict):
            raise HttpError(400, "the request body must be a JSON object")
        return body

    def send_page_file(self, path: str) -> None:
        name, kind = PAGE_FILES[path]
        data = (STATIC / name).read_bytes()
        # The page's own links carry the token, which the address just proved.
        data = data.replace(TOKEN_MARK.encode(), self.server.token.encode())
        if path == "/":
            with self.server.disk:
                initial = api.initial_state(self.server.workspace)
            data = data.replace(INITIAL_MARK.encode(), script_json(initial), 1)
        self.send(200, kind, data)

    def send_json(self, status: int, value: Any) -> None:
        self.send(status, "application/json", json.dumps(value).encode())

    def send(
        self, status: int, kind: str, data: bytes, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in {**HEADERS, "Content-Type": kind, **(extra or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: each request line holds the token, and the terminal shows only
        the address and errors."""

    def render(self, body: dict[str, Any]) -> None:
        with self.server.disk:  # in update mode it reads the project
            answer = api.preview(self.server.workspace, body)
        self.send_json(200, answer)

    def create(self, body: dict[str, Any]) -> None:
        with self.server.disk:
            answer = api.create_project(self.server.workspace, body)
        self.send_json(200, answer)

    def plan(self, body: dict[str, Any]) -> None:
        with self.server.disk:
            answer = api.plan(self.server.workspace, body)
        self.send_json(200, answer)

    def update(self, body: dict[str, Any]) -> None:
        with self.server.disk:
            answer = api.update_project(self.server.workspace, body)
        self.send_json(200, answer)

    def download(self, body: dict[str, Any]) -> None:
        name, data = api.download(body)
        disposition = f'attachment; filename="{name}"'  # a package name: no quotes
        self.send(200, "application/zip", data, {"Content-Disposition": disposition})


POST_ROUTES: dict[str, Callable[[Handler, dict[str, Any]], None]] = {
    "/api/render": Handler.render,
    "/api/create": Handler.create,
    "/api/plan": Handler.plan,
    "/api/update": Handler.update,
    "/api/download": Handler.download,
}
