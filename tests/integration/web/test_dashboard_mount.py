"""The jobs dashboard is mounted at /sidequest only with a login (or in a dev run)."""

from __future__ import annotations

import base64

import pytest

from sidequest.errors import ConfigError
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


@pytest.mark.parametrize("spelling", ["1", "on", "ON", "yes", "True"])
def test_a_development_run_mounts_it_without_a_login(
    make_app: MakeApp, redis_url: str, spelling: str
) -> None:
    # SIDEQUEST_WEB_DEV=on once mounted it in the dashboard's own parser but not here.
    client = make_app(redis_url, SIDEQUEST_WEB_DEV=spelling).test_client()
    assert client.get("/sidequest/").status_code == 200


@pytest.mark.parametrize("spelling", ["0", "off", "No", "FALSE"])
def test_sidequest_web_dev_off_keeps_it_off(
    make_app: MakeApp, redis_url: str, spelling: str
) -> None:
    client = make_app(redis_url, SIDEQUEST_WEB_DEV=spelling).test_client()
    assert client.get("/sidequest/").status_code == 404


def test_a_malformed_sidequest_web_dev_stops_the_app_naming_it(
    make_app: MakeApp, redis_url: str
) -> None:
    with pytest.raises(ConfigError, match="SIDEQUEST_WEB_DEV must be on or off"):
        make_app(redis_url, SIDEQUEST_WEB_DEV="enabled")
