"""Sidekiq's Web UI (Debian's Sidekiq 6.4.1) served by `rackup` + WEBrick, and a browser-
like HTTP session for it that keeps the session cookie and sends the CSRF token."""

from __future__ import annotations

import html
import http.cookiejar
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.interop.child import Child
from tests.interop.ruby_console import RUBY_DIR, require_ruby_sidekiq
from tests.support.polling import wait_for
from tests.support.ports import free_port

_TOKEN = re.compile(r"""name=["']authenticity_token["'] value=["']([^"']+)["']""")


@dataclass
class Page:
    status: int
    body: str
    url: str

    @property
    def text(self) -> str:
        """The body with tags removed and entities decoded, for "shows X" checks."""
        return html.unescape(re.sub(r"<[^>]+>", " ", self.body))


class SidekiqWeb:
    def __init__(self, child: Child, base_url: str):
        self.child = child
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    @classmethod
    def start(cls, redis_url: str, log_path: Path) -> SidekiqWeb:
        require_ruby_sidekiq()
        rackup = shutil.which("rackup")
        if rackup is None:
            raise RuntimeError(
                "rackup is missing: `apt-get install ruby-rack` (ruby-sidekiq depends on it)"
            )
        port = free_port()
        command = [rackup, "-s", "webrick", "-o", "127.0.0.1", "-p", str(port), "web.ru"]
        child = Child(
            command, log_path, cwd=RUBY_DIR, env={"REDIS_URL": redis_url, "RACK_ENV": "production"}
        )
        web = cls(child, f"http://127.0.0.1:{port}")
        try:
            wait_for(
                web._answers, timeout=30, interval=0.05, message=f"the Web UI (log: {log_path})"
            )
        except AssertionError:
            child.stop()
            raise
        return web

    def _answers(self) -> bool:
        if not self.child.running():
            raise AssertionError(f"rackup exited early:\n{self.child.log()[-3000:]}")
        try:
            return self.get("/").status == 200
        except OSError:
            return False

    def get(self, path: str) -> Page:
        return self._open(urllib.request.Request(self.base_url + path))

    def post_form(self, path: str, fields: dict[str, str], *, token_from: str) -> Page:
        """POST a form as the page at `token_from` would, with its CSRF token."""
        form = self.get(token_from)
        match = _TOKEN.search(form.body)
        assert match is not None, f"no CSRF token on {token_from}"
        data = urllib.parse.urlencode({**fields, "authenticity_token": html.unescape(match[1])})
        request = urllib.request.Request(self.base_url + path, data=data.encode(), method="POST")
        return self._open(request)

    def _open(self, request: urllib.request.Request) -> Page:
        try:
            with self.opener.open(request, timeout=15) as response:
                return Page(response.status, response.read().decode(), response.url)
        except urllib.error.HTTPError as error:
            return Page(error.code, error.read().decode(errors="replace"), request.full_url)

    def stop(self) -> None:
        self.child.stop(grace=10)
