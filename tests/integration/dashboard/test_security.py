"""Authentication, CSRF and same-origin checks, headers, and escaping of Redis data."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import redis
from flask import Flask, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from sidequest.dashboard import Dashboard
from sidequest.errors import ConfigError
from sidequest.periodic_jobs.schedule import parse
from sidequest.periodic_jobs.store import PeriodicStore
from tests.integration.dashboard import seed
from tests.integration.dashboard.conftest import PREFIX, Browser, basic, make_app

TEMPLATES = Path(__file__).resolve().parents[3] / "services/sidequest/dashboard/templates"
PAGES = (
    "/",
    "/busy",
    "/queues",
    "/retries",
    "/scheduled",
    "/dead",
    "/periodic",
    "/limits",
    "/metrics",
)


# -- authentication ------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/stats.json", "/static/dashboard.js"])
def test_every_route_requires_credentials(app: Flask, path: str) -> None:
    with app.test_client() as client:
        response = client.get(PREFIX + path)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
        assert client.get(PREFIX + path, headers=basic(password="wrong")).status_code == 401
        assert client.get(PREFIX + path, headers=basic(username="root")).status_code == 401
        allowed = client.get(PREFIX + path, headers=basic())
        assert allowed.status_code == 200
        allowed.close()  # static files are streamed from an open file


def test_an_unauthenticated_post_changes_nothing(app: Flask, db: redis.Redis) -> None:
    seed.enqueue(db, seed.job(queue="keep"))
    with app.test_client() as client:
        response = client.post(PREFIX + "/queue-actions/clear", data={"queue": "keep"})
    assert response.status_code == 401
    assert db.llen("queue:keep") == 1


def test_garbage_authorization_headers_are_refused(app: Flask) -> None:
    with app.test_client() as client:
        for header in ("Basic", "Basic !!!", "Bearer abc", "Basic " + "a" * 10):
            assert client.get(PREFIX + "/", headers={"Authorization": header}).status_code == 401


def test_the_host_apps_auth_hook_decides(redis_url: str) -> None:
    app = Flask("host")
    app.secret_key = "k"

    def only_admins() -> bool | BaseResponse:
        role = request.headers.get("X-Role")
        if role is None:
            return redirect("/login")
        return role == "admin"

    Dashboard().init_app(app, redis=redis_url, auth=only_admins)
    with app.test_client() as client:
        assert client.get("/sidequest/", headers={"X-Role": "admin"}).status_code == 200
        assert client.get("/sidequest/", headers={"X-Role": "guest"}).status_code == 403
        login = client.get("/sidequest/queues")
        assert login.status_code == 302 and login.headers["Location"] == "/login"


def test_without_authentication_the_dashboard_refuses_to_start(redis_url: str) -> None:
    app = Flask("open")
    app.secret_key = "k"
    with pytest.raises(ConfigError, match="needs authentication"):
        Dashboard().init_app(app, redis=redis_url)
    assert "sidequest_dashboard" not in app.extensions


def test_a_development_run_may_go_without_authentication(redis_url: str) -> None:
    app = Flask("dev")
    app.secret_key = "k"
    app.config["SIDEQUEST_WEB_DEV"] = "1"
    Dashboard().init_app(app, redis=redis_url)
    with app.test_client() as client:
        assert client.get("/sidequest/").status_code == 200


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"SIDEQUEST_WEB_USERNAME": "admin"}, "both SIDEQUEST_WEB_USERNAME and"),
        ({"SIDEQUEST_WEB_PASSWORD": "x"}, "both SIDEQUEST_WEB_USERNAME and"),
        ({"SIDEQUEST_WEB_DEV": "maybe"}, "SIDEQUEST_WEB_DEV must be on or off"),
        ({"SIDEQUEST_WEB_DEV": "1", "SIDEQUEST_WEB_PAGE_SIZE": "7"}, "SIDEQUEST_WEB_PAGE_SIZE"),
        ({"SIDEQUEST_WEB_DEV": "1", "SIDEQUEST_WEB_BULK_LIMIT": "0"}, "SIDEQUEST_WEB_BULK_LIMIT"),
    ],
)
def test_bad_settings_are_clear_errors(
    redis_url: str, config: dict[str, str], message: str
) -> None:
    app = Flask("bad")
    app.secret_key = "k"
    app.config.update(config)
    with pytest.raises(ConfigError, match=message):
        Dashboard().init_app(app, redis=redis_url)


def test_a_secret_key_is_required_for_csrf_tokens(redis_url: str) -> None:
    app = Flask("nokey")
    app.config.update(SIDEQUEST_WEB_USERNAME="a", SIDEQUEST_WEB_PASSWORD="b")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Dashboard().init_app(app, redis=redis_url)


def test_init_app_mounts_under_any_prefix_and_once_per_app(redis_url: str) -> None:
    app = make_app(redis_url)
    with pytest.raises(ConfigError, match="already registered"):
        Dashboard().init_app(app, redis=redis_url)
    other = Flask("other")
    other.secret_key = "k"
    other.config.update(SIDEQUEST_WEB_DEV=True)
    Dashboard(other, url_prefix="/admin/jobs/", redis=redis_url)
    with other.test_client() as client:
        page = client.get("/admin/jobs/queues")
        assert page.status_code == 200
        assert 'href="/admin/jobs/static/dashboard.css"' in page.get_data(as_text=True)


# -- state changes ---------------------------------------------------------------------


def test_a_post_without_a_valid_token_is_refused(browser: Browser, db: redis.Redis) -> None:
    seed.enqueue(db, seed.job(queue="keep"))
    for token in ("", "forged-token-value"):
        response = browser.post("/queue-actions/clear", {"queue": "keep"}, token=token)
        assert response.status_code == 403
        assert "security token" in response.get_data(as_text=True)
    assert db.llen("queue:keep") == 1


def test_a_token_from_another_session_is_refused(app: Flask, db: redis.Redis) -> None:
    seed.enqueue(db, seed.job(queue="keep"))
    with app.test_client() as first:
        token = Browser(first).token()
    with app.test_client() as second:
        response = Browser(second).post("/queue-actions/clear", {"queue": "keep"}, token=token)
    assert response.status_code == 403
    assert db.llen("queue:keep") == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
)
def test_cross_origin_posts_are_refused_even_with_a_token(
    browser: Browser, db: redis.Redis, headers: dict[str, str]
) -> None:
    seed.enqueue(db, seed.job(queue="keep"))
    response = browser.post("/queue-actions/clear", {"queue": "keep"}, headers=headers)
    assert response.status_code == 403
    assert db.llen("queue:keep") == 1


def test_same_origin_posts_with_a_token_pass(browser: Browser, db: redis.Redis) -> None:
    seed.enqueue(db, seed.job(queue="gone"))
    headers = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}
    response = browser.post("/queue-actions/clear", {"queue": "gone"}, headers=headers)
    assert response.status_code == 303
    assert db.llen("queue:gone") == 0


@pytest.mark.parametrize(
    "path",
    [
        "/queue-actions/clear",
        "/queue-actions/delete-job",
        "/retries/selected",
        "/retries/all",
        "/scheduled/all",
        "/dead/selected",
        "/busy/signal",
    ],
)
def test_get_never_changes_state(browser: Browser, db: redis.Redis, path: str) -> None:
    seed.enqueue(db, seed.job(queue="keep"))
    seed.add_to_set(db, "retry", seed.failed(), time.time())
    response = browser.get(path + "?queue=keep&action=delete")
    assert response.status_code == 405
    assert db.llen("queue:keep") == 1 and db.zcard("retry") == 1


# -- headers ---------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(app: Flask, browser: Browser) -> None:
    responses = [browser.get(path) for path in (*PAGES, "/stats.json", "/queues/none")]
    with app.test_client() as anonymous:
        responses.append(anonymous.get(PREFIX + "/"))
    responses.append(browser.post("/queue-actions/clear", {"queue": "x"}, token="bad"))
    for response in responses:
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert responses[0].headers["Cache-Control"] == "no-store"


def test_templates_have_no_inline_script_handlers_or_styles() -> None:
    for template in TEMPLATES.rglob("*.html"):
        source = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), template
        assert not re.search(r"\son[a-z]+\s*=", source), template
        assert not re.search(r"\sstyle\s*=", source), template
        assert "javascript:" not in source, template
        assert "|safe" not in source.replace(" ", "") and "Markup(" not in source, template


# -- escaping --------------------------------------------------------------------------


def seed_xss(db: redis.Redis) -> str:
    """Every kind of field a page shows, each carrying each attack string."""
    queue = f"q{seed.XSS_IMG}"
    for value in seed.XSS_VALUES:
        item = seed.failed(value, value, queue=queue, args=[value, {"k": value}])
        item["error_class"] = value
        seed.enqueue(db, item)
        seed.add_to_set(db, "retry", item, time.time() + 60)
        seed.add_to_set(db, "schedule", item, time.time() + 60)
        seed.add_to_set(db, "dead", item, time.time() - 60)
    seed.process(
        db,
        f"{seed.XSS_SCRIPT}:7:abcdefabcdef",
        tag=seed.XSS_IMG,
        queues=(seed.XSS_URL, queue),
        running=[seed.job(seed.XSS_SCRIPT, [seed.XSS_IMG], queue=queue)],
    )
    minute = time.strftime("%Y%m%d%H%M", time.gmtime())[:-1]
    db.hset(f"sidequest:metrics:{minute}", mapping={f"{seed.XSS_SCRIPT}|p": 1})
    # A periodic definition's class, queue and arguments (names are plain by rule).
    periodic = {"every": 60, "class": "X<b>", "args": list(seed.XSS_VALUES), "queue": "q<i>"}
    PeriodicStore(db).publish([parse("xss", periodic).resolved(queue="q", retry=True)], 0)
    return queue


def assert_escaped(page: str) -> None:
    assert "<script>window" not in page
    assert "<img" not in page
    assert 'onerror="window' not in page
    assert not re.search(r'(href|src|action)="\s*javascript:', page)
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page or "Busy" in page


def test_values_from_redis_are_escaped_on_every_page(browser: Browser, db: redis.Redis) -> None:
    queue = seed_xss(db)
    listing = browser.get("/retries").get_data(as_text=True)
    entry_links = re.findall(r'href="/sidequest(/(?:retries|scheduled|dead)/entry/[^"]+)"', listing)
    paths = [*PAGES, f"/queues/{queue}", "/retries?filter=script", *set(entry_links)]
    for path in paths:
        response = browser.get(path.replace("&amp;", "&"))
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert_escaped(page)
    busy = browser.get("/busy").get_data(as_text=True)
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;:7" in busy
    periodic = browser.get("/periodic").get_data(as_text=True)
    assert "X&lt;b&gt;" in periodic and "q&lt;i&gt;" in periodic
    assert "&#34;&gt;&lt;img src=x onerror=&#34;window.__xss=2&#34;&gt;" in busy


def test_filter_text_is_escaped_when_echoed(browser: Browser) -> None:
    page = browser.get("/retries", query_string={"filter": seed.XSS_IMG}).get_data(as_text=True)
    assert_escaped(page)
    assert 'value="&#34;&gt;&lt;img src=x onerror=&#34;window.__xss=2&#34;&gt;"' in page


def test_credentials_come_from_the_environment_when_the_app_config_has_none(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIDEQUEST_WEB_USERNAME", "env-admin")
    monkeypatch.setenv("SIDEQUEST_WEB_PASSWORD", "env-secret")
    app = Flask("host")
    app.secret_key = "k"
    Dashboard().init_app(app, url_prefix=PREFIX, redis=redis_url)
    with app.test_client() as client:
        assert client.get(PREFIX + "/").status_code == 401
        allowed = client.get(PREFIX + "/", headers=basic("env-admin", "env-secret"))
        assert allowed.status_code == 200


def test_the_app_config_wins_over_the_environment(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIDEQUEST_WEB_USERNAME", "env-admin")
    monkeypatch.setenv("SIDEQUEST_WEB_PASSWORD", "env-secret")
    app = make_app(redis_url)  # the fixture's credentials, in app.config
    with app.test_client() as client:
        assert client.get(PREFIX + "/", headers=basic()).status_code == 200
        refused = client.get(PREFIX + "/", headers=basic("env-admin", "env-secret"))
        assert refused.status_code == 401
