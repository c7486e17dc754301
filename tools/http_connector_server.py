#!/usr/bin/env python3
"""Reference server of the panel's `http` connector protocol, serving a folder per person.

    python tools/http_connector_server.py --root /srv/data --token-file token.txt --port 8401

A person's data is the folder <root>/<uid>/. The server answers:

    GET    /users/<uid>          inventory document (404 when the folder does not exist)
    GET    /users/<uid>/export   the folder as a tar stream (chunked, never in memory)
    DELETE /users/<uid>          202 + status document; the folder is removed in the
                                 background (204 when there is nothing left to delete)
    GET    /jobs/<id>            status document of a deletion
    PUT    /users/<uid>/import/<path>   one file brought in (moving house): 201 written,
                                 200 the same file is there already, 409 a different one is

Only the standard library is used, so a hoster can copy this file next to a service and
change the three functions marked "SERVICE" to speak to it. See docs/connectors.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import tarfile
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

JOBS: dict[str, dict[str, Any]] = {}
JOBS_LOCK = threading.Lock()


class Chunked:
    """A writable file that sends what it gets as HTTP/1.1 chunks."""

    def __init__(self, wfile: Any) -> None:
        self.wfile = wfile

    def write(self, data: bytes) -> int:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        return len(data)

    def flush(self) -> None:
        self.wfile.flush()

    def close(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    # SERVICE: what is held, how to export it, how to delete it ----------------------------

    def inventory(self, folder: Path) -> dict[str, Any]:
        count = size = 0
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                count += 1
                size += path.stat().st_size
        return {
            "uid": folder.name,
            "available_bytes": self.room(),
            "items": [
                {
                    "kind": "Files you keep in the service",
                    "count": count,
                    "bytes": size,
                    "location": f"{self.server.root}",
                    "retention": "Until you delete them or your account",
                    "exported": True,
                }
            ],
        }

    def export(self, folder: Path, out: Chunked) -> None:
        delay = self.server.slow
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_symlink() or not (path.is_file() or path.is_dir()):
                    continue
                archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
                out.flush()
                if delay:
                    time.sleep(delay)  # lets a test stop the server mid-export

    def remove(self, folder: Path, language: str) -> dict[str, Any]:
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
        # The texts reach staff and the person's receipt as they are: in their language.
        if language == "fr":
            return {
                "deleted": [f"{count} fichiers"],
                "kept": ["les sauvegardes de la nuit, écrasées au bout de 30 jours"],
            }
        return {
            "deleted": [f"{count} files"],
            "kept": ["the nightly backups, overwritten after 30 days"],
        }

    def room(self) -> int:
        """Bytes a person may still bring in: here, the free space of the disk."""
        if self.server.quota is not None:
            used = sum(p.stat().st_size for p in self.server.root.rglob("*") if p.is_file())
            return max(0, self.server.quota - used)
        return shutil.disk_usage(self.server.root).free

    def store(self, folder: Path, parts: list[str], body: Path, digest: str) -> int:
        """Put a received file (already in `body`, its SHA-256 `digest`) at folder/parts:
        201 written, 200 the same file was there, 409 a different one is, 507 no room.
        Never through a link: each folder of the path must be a real folder."""
        here = folder
        for part in parts[:-1]:
            here = here / part
            if here.is_symlink() or (here.exists() and not here.is_dir()):
                return 409
            here.mkdir(exist_ok=True)
        target = here / parts[-1]
        if target.is_symlink() or target.is_dir():
            return 409
        if target.exists():
            with target.open("rb") as old:
                same = hashlib.file_digest(old, "sha256").hexdigest() == digest
            return 200 if same else 409
        if body.stat().st_size > self.room():
            return 507
        os.link(body, target)  # never replaces a file that appeared meanwhile
        return 201

    # Protocol -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        if not self.authorised():
            return
        parts = self.parts()
        if len(parts) == 2 and parts[0] == "jobs":
            with JOBS_LOCK:
                job = JOBS.get(parts[1])
            if job is None:
                self.send_json(404, {"error": "unknown job"})
            else:
                self.send_json(200, job)
            return
        folder = self.folder(parts)
        if folder is None:
            return
        if len(parts) == 2:
            self.send_json(200, self.inventory(folder))
        elif len(parts) == 3 and parts[2] == "export":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            out = Chunked(self.wfile)
            self.export(folder, out)
            out.close()
        else:
            self.send_json(404, {"error": "not found"})

    def do_DELETE(self) -> None:
        if not self.authorised():
            return
        parts = self.parts()
        if len(parts) != 2 or parts[0] != "users":
            self.send_json(404, {"error": "not found"})
            return
        folder = self.user_folder(parts[1])
        if folder is None:
            self.send_json(400, {"error": "bad uid"})
            return
        if not folder.exists():
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        # The panel asks for the status document's texts in the person's language.
        wanted = self.headers.get("Accept-Language", "").split(",")[0].split(";")[0]
        language = wanted.strip().split("-")[0].lower()
        job_id = uuid.uuid4().hex
        status_url = f"{self.server.prefix}/jobs/{job_id}"
        with JOBS_LOCK:
            JOBS[job_id] = {"state": "pending", "status_url": status_url}

        def work() -> None:
            time.sleep(self.server.delete_delay)
            try:
                done = {"state": "done", **self.remove(folder, language)}
            except OSError as exc:
                done = {"state": "failed", "detail": str(exc.strerror)}
            with JOBS_LOCK:
                JOBS[job_id] = done

        threading.Thread(target=work, daemon=True).start()
        self.send_json(202, JOBS[job_id], location=status_url)

    def do_PUT(self) -> None:
        length = self.headers.get("Content-Length")
        if not self.authorised():
            return
        parts = self.parts()
        if len(parts) < 4 or parts[0] != "users" or parts[2] != "import":
            self.send_json(404, {"error": "not found"})
            return
        folder = self.user_folder(parts[1])
        names = parts[3:]
        if folder is None or any(n in ("", ".", "..") or "/" in n or "\x00" in n for n in names):
            self.send_json(400, {"error": "bad uid or path"})
            return
        if length is None or not length.isdigit():
            self.send_json(411, {"error": "Content-Length is needed"})
            return
        folder.mkdir(exist_ok=True)
        # The body goes to a temporary file first (read whole, whatever the answer), with
        # its digest; the Repr-Digest header (RFC 9530), when sent, must match it.
        digest = hashlib.sha256()
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".import-", delete=False) as out:
            left = int(length)
            while left:
                chunk = self.rfile.read(min(left, 1024 * 1024))
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
                left -= len(chunk)
            body = Path(out.name)
        try:
            given = self.headers.get("Repr-Digest", "")
            expected = base64.b64encode(digest.digest()).decode()
            if left or (given and given.strip() != f"sha-256=:{expected}:"):
                self.send_json(400, {"error": "the body does not match its Repr-Digest"})
                return
            mtime = self.headers.get("X-Mtime", "")
            if mtime.isdigit():
                os.utime(body, (int(mtime), int(mtime)))
            status = self.store(folder, names, body, digest.hexdigest())
        finally:
            body.unlink()
        documents = {
            201: {"state": "done"},
            200: {"state": "done", "detail": "the same file is there already"},
            409: {"error": "a different file, a folder or a link already has this name"},
            507: {"error": "no room left"},
        }
        self.send_json(status, documents[status])

    # Helpers ------------------------------------------------------------------------------

    def authorised(self) -> bool:
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.server.token}"
        if hmac.compare_digest(given.encode(), expected.encode()):
            return True
        self.send_json(401, {"error": "a valid bearer token is needed"})
        return False

    def parts(self) -> list[str]:
        path = urlsplit(self.path).path
        base = self.server.prefix
        if base and path.startswith(base):
            path = path[len(base) :]
        return [unquote(p) for p in path.split("/") if p]

    def user_folder(self, uid: str) -> Path | None:
        if not uid or uid in (".", "..") or "/" in uid or "\x00" in uid:
            return None
        return self.server.root / uid

    def folder(self, parts: list[str]) -> Path | None:
        if len(parts) < 2 or parts[0] != "users":
            self.send_json(404, {"error": "not found"})
            return None
        folder = self.user_folder(parts[1])
        if folder is None or not folder.is_dir():
            self.send_json(404, {"error": "no data for this person"})
            return None
        return folder

    def send_json(self, status: int, document: Any, location: str | None = None) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path, token: str, **kw: Any) -> None:
        super().__init__(address, Handler)
        self.root = root
        self.token = token
        self.prefix = kw.get("prefix", "")
        self.slow = float(kw.get("slow", 0.0))
        self.delete_delay = float(kw.get("delete_delay", 0.0))
        self.quiet = bool(kw.get("quiet", False))
        self.quota: int | None = kw.get("quota")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, type=Path, help="folder with one folder per uid")
    parser.add_argument("--token-file", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8401)
    parser.add_argument("--prefix", default="", help="path the API is served under")
    parser.add_argument("--slow", type=float, default=0.0, help="seconds to wait between files")
    parser.add_argument("--delete-delay", type=float, default=0.0)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--quota", type=int, help="bytes all people may keep (default: the disk)")
    args = parser.parse_args()
    token = args.token_file.read_text(encoding="utf-8").strip()
    if not token:
        parser.error("the token file is empty")
    server = Server(
        (args.host, args.port),
        args.root.resolve(),
        token,
        prefix=args.prefix.rstrip("/"),
        slow=args.slow,
        delete_delay=args.delete_delay,
        quiet=args.quiet,
        quota=args.quota,
    )
    print(
        f"serving {args.root} on http://{args.host}:{server.server_port}{args.prefix}", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        os._exit(0)


if __name__ == "__main__":
    main()
