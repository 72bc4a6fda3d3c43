"""The dev stack's mail sink: `python -m infra.dev.mailsink --smtp-port 1025 --http-port 8025
--maildir DIR [--host 127.0.0.1]`.

An SMTP server (aiosmtpd) on 127.0.0.1 accepts every message and keeps it as an .eml
file in DIR (infra/dev/mailbox.py). An HTTP server on 127.0.0.1 shows them:

    /                                 a page listing the newest messages
    /api/v1/messages?start=0&limit=50 summaries, newest first   } the part of Mailpit's
    /api/v1/message/<ID>/raw          one message's source      } API the tests use

so a developer reads the report mails in a browser (or DIR), and the stack tests read
this sink and the Compose stack's Mailpit with the same client. Runs until SIGTERM or
SIGINT.

`--host` moves both servers to another address: the offline stand-in for Mailpit
(infra/offline/mailcatcher) runs it on 0.0.0.0 inside its container.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from infra.dev.mailbox import Mailbox, UnknownMessage

HOST = "127.0.0.1"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_RAW = re.compile(r"^/api/v1/message/([^/]+)/raw$")
# The page runs no script and loads nothing: mail content is shown as escaped text.
_PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


class StoringHandler:
    """aiosmtpd handler: every message goes to the mailbox, untouched."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        message_id = self.mailbox.save(data)
        print(f"mail {message_id} to {', '.join(envelope.rcpt_tos)}", flush=True)
        return "250 Message accepted for delivery"


def handler_for(mailbox: Mailbox) -> type[BaseHTTPRequestHandler]:
    class MailPages(BaseHTTPRequestHandler):
        server_version = "sidequest-dev-mail"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            raw = _RAW.match(url.path)
            if url.path == "/":
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", _index(mailbox).encode())
            elif url.path == "/api/v1/messages":
                query = parse_qs(url.query)
                try:
                    start = _bounded(query, "start", 0, 0, 10**9)
                    limit = _bounded(query, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
                except ValueError as error:
                    self._json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
                    return
                self._json(HTTPStatus.OK, mailbox.page(start, limit))
            elif raw is not None:
                try:
                    body = mailbox.raw(raw.group(1))
                except UnknownMessage:
                    self._json(HTTPStatus.NOT_FOUND, {"error": "no such message"})
                    return
                self._send(HTTPStatus.OK, "text/plain; charset=utf-8", body)
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no page at {url.path}"})

        def _json(self, status: HTTPStatus, document: Any) -> None:
            self._send(status, "application/json", json.dumps(document).encode())

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", _PAGE_POLICY)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the page polls nothing; request lines would only bury the mail lines

    return MailPages


def _bounded(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    values = query.get(name)
    if not values:
        return default
    text = values[0]
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}")
    return int(text)


def _index(mailbox: Mailbox) -> str:
    page = mailbox.page(0, 200)
    rows = []
    for message in page["messages"]:
        recipients = ", ".join(address["Address"] for address in message["To"])
        rows.append(
            "<tr>"
            f"<td>{html.escape(message['Created'])}</td>"
            f"<td>{html.escape(message['From']['Address'])}</td>"
            f"<td>{html.escape(recipients)}</td>"
            f'<td><a href="/api/v1/message/{message["ID"]}/raw">'
            f"{html.escape(message['Subject'] or '(no subject)')}</a></td>"
            "</tr>"
        )
    table = "\n".join(rows) or '<tr><td colspan="4">No mail yet.</td></tr>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dev mail</title>
<style>body{{font:14px sans-serif;margin:2em}}td,th{{padding:.3em .8em;text-align:left}}
tr:nth-child(even){{background:#f4f4f4}}</style></head>
<body><h1>Dev mail</h1>
<p>{page["total"]} message(s), newest first (at most 200 shown). Files:
<code>{html.escape(str(mailbox.directory))}</code></p>
<table><tr><th>received</th><th>from</th><th>to</th><th>subject</th></tr>
{table}
</table></body></html>
"""


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The dev stack's mail sink.")
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument(
        "--host", default=HOST, help=f"address of both servers (default {HOST}: loopback only)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    host = arguments.host
    mailbox = Mailbox(arguments.maildir)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())

    smtp = Controller(StoringHandler(mailbox), hostname=host, port=arguments.smtp_port)
    smtp.start()
    pages = ThreadingHTTPServer((host, arguments.http_port), handler_for(mailbox))
    pages.daemon_threads = True
    serving = threading.Thread(target=pages.serve_forever, name="mail-pages", daemon=True)
    serving.start()
    print(
        f"mail sink: SMTP on {host}:{arguments.smtp_port}, pages on "
        f"http://{host}:{arguments.http_port}/, files in {arguments.maildir}",
        flush=True,
    )
    try:
        stopped.wait()
    finally:
        pages.shutdown()
        pages.server_close()
        smtp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
