"""The jobs dashboard is mounted at /sidequest only with a login (or in a dev run)."""

from __future__ import annotations

import base64

import pytest

from tests.integration.web.conftest import MakeApp


def test_without_a_login_the_dashboard_stays_off_and_the_shop_serves(
    make_app: MakeApp, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app(redis_url).test_client()
    assert client.get("/sidequest/").status_code == 404
    assert client.get("/").status_code == 200
    assert b"Jobs dashboard" not in client.get("/").data
    assert "the jobs dashboard is off" in caplog.text


def test_with_a_login_the_dashboard_asks_for_it(make_app: MakeApp, redis_url: str) -> None:
    client = make_app(
        redis_url, SIDEQUEST_WEB_USERNAME="admin", SIDEQUEST_WEB_PASSWORD="s3cret"
    ).test_client()

    assert client.get("/sidequest/").status_code == 401
    login = base64.b64encode(b"admin:s3cret").decode()
    assert client.get("/sidequest/", headers={"Authorization": f"Basic {login}"}).status_code == 200
    assert b'href="/sidequest/"' in client.get("/").data


def test_a_development_run_mounts_it_without_a_login(make_app: MakeApp, redis_url: str) -> None:
    client = make_app(redis_url, SIDEQUEST_WEB_DEV="1").test_client()
    assert client.get("/sidequest/").status_code == 200
