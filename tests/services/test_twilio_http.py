"""The HTTP client under the twilio library reads once what `requests` read on every call:
the environment's proxy for Twilio's API, and the hosts that bypass it."""

from __future__ import annotations

import pytest
import urllib3

from helpline import twilio_rest

API = "https://api.twilio.com"


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("https_proxy", "http_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_without_a_proxy_in_the_environment_the_api_is_reached_directly() -> None:
    pool = twilio_rest.ApiHttpClient(API, timeout=5).pool
    assert not isinstance(pool, urllib3.ProxyManager)


def test_the_environments_https_proxy_carries_requests_to_the_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("https_proxy", "http://egress.example:3128")
    pool = twilio_rest.ApiHttpClient(API, timeout=5).pool
    assert isinstance(pool, urllib3.ProxyManager)
    assert (pool.proxy.host, pool.proxy.port) == ("egress.example", 3128)


def test_a_host_named_in_no_proxy_is_reached_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://egress.example:3128")
    monkeypatch.setenv("no_proxy", "localhost,api.twilio.com")
    pool = twilio_rest.ApiHttpClient(API, timeout=5).pool
    assert not isinstance(pool, urllib3.ProxyManager)


def test_only_the_proxy_for_the_apis_scheme_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://egress.example:3128")
    assert not isinstance(twilio_rest.ApiHttpClient(API, timeout=5).pool, urllib3.ProxyManager)
    plain = twilio_rest.ApiHttpClient("http://127.0.0.1:8080", timeout=5).pool
    assert isinstance(plain, urllib3.ProxyManager)
