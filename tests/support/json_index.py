"""A small PEP 691 JSON simple index on 127.0.0.1, serving the wheels of one folder.

pypiserver serves HTML pages only; PyPI serves JSON pages whose file URLs are absolute. This
server does the same (``Cache-Control: max-age=600`` and an ``ETag`` too), so tests can cover
what lockkeys does with such pages, and it counts the requests for each path.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name, parse_wheel_filename

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class JsonIndex:
    folder: Path
    url: str = ""
    hits: Counter[str] = field(default_factory=Counter)

    def page(self, project: str) -> bytes | None:
        wanted = canonicalize_name(project)
        files = []
        for wheel in sorted(self.folder.glob("*.whl")):
            if parse_wheel_filename(wheel.name)[0] != wanted:
                continue
            data = wheel.read_bytes()
            files.append(
                {
                    "filename": wheel.name,
                    "url": f"{self.url.removesuffix('/simple/')}/files/{wheel.name}",
                    "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
                    "size": len(data),
                }
            )
        if not files:
            return None
        document = {"meta": {"api-version": "1.1"}, "name": wanted, "files": files}
        return json.dumps(document, sort_keys=True).encode()


def _handler(index: JsonIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            del format, args

        head_only = False

        def do_HEAD(self) -> None:  # uv asks before a download (no Accept-Ranges: it fetches)
            self.head_only = True
            self.do_GET()

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            index.hits[path] += 1
            parts = [unquote(p) for p in path.split("/") if p]
            body: bytes | None = None
            kind = "application/octet-stream"
            if len(parts) == 2 and parts[0] == "simple":
                body, kind = index.page(parts[1]), JSON_TYPE
            elif len(parts) == 2 and parts[0] == "files" and "/" not in parts[1]:
                wheel = index.folder / parts[1]
                body = wheel.read_bytes() if wheel.is_file() else None
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=600")
            self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
            self.end_headers()
            if not self.head_only:
                self.wfile.write(body)

    return Handler


@contextmanager
def serve_json_index(folder: Path) -> Iterator[JsonIndex]:
    """Serve ``folder``'s wheels; ``.url`` is ``http://127.0.0.1:PORT/simple/``."""
    index = JsonIndex(Path(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(index))
    server.daemon_threads = True
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
