"""Tests for knowledge.clients.urlsafety."""

from __future__ import annotations

import socket

import pytest

from knowledge.clients.urlsafety import (
    UnsafeUrl,
    check_source_url,
    is_public_address,
    resolve_checked,
)

PUBLIC_IP = "93.184.216.34"


def _resolver(*addresses: str):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        family = socket.AF_INET6
        return [
            (
                family if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in addresses
        ]

    return fake_getaddrinfo


def test_unsafe_url_is_a_value_error() -> None:
    assert issubclass(UnsafeUrl, ValueError)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/feed",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.com/feed",
        "gopher://example.com/",
        "",
        "   ",
    ],
)
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_source_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://", "https:///path", "http://:80/x"])
def test_urls_without_host_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="no host"):
        check_source_url(url, allow_private=True)


def test_bad_port_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match="port"):
        check_source_url("http://example.com:99999/feed", allow_private=True)


def test_whitespace_inside_url_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match="whitespace"):
        check_source_url("http://exa mple.com/feed", allow_private=True)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/feed", "loopback"),
        ("http://127.8.9.10:8080/feed", "loopback"),
        ("http://[::1]/feed", "loopback"),
        ("http://10.1.2.3/feed", "private"),
        ("http://192.168.0.10/feed", "private"),
        ("http://172.16.5.4/feed", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[fe80::1]/feed", "link-local"),
        ("http://224.0.0.1/feed", "multicast"),
        ("http://0.0.0.0/feed", "unspecified"),
        ("http://240.0.0.1/feed", "reserved"),
        ("http://[::ffff:127.0.0.1]/feed", "loopback"),
        ("http://100.64.0.1/feed", "non-public"),
    ],
)
def test_non_public_addresses_are_refused(url: str, kind: str) -> None:
    with pytest.raises(UnsafeUrl, match=f"resolves to {kind} address"):
        check_source_url(url)


def test_private_addresses_allowed_when_asked() -> None:
    assert (
        check_source_url("http://127.0.0.1:8080/feed", allow_private=True)
        == "http://127.0.0.1:8080/feed"
    )
    assert check_source_url("http://[::1]/x", allow_private=True) == "http://[::1]/x"


def test_public_ip_literal_is_accepted() -> None:
    assert check_source_url(f"https://{PUBLIC_IP}/feed.xml") == f"https://{PUBLIC_IP}/feed.xml"


def test_host_resolving_to_public_address_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver(PUBLIC_IP, "2606:2800:220:1::1"))
    assert check_source_url("https://news.example.com/feed") == "https://news.example.com/feed"


def test_host_resolving_to_any_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver(PUBLIC_IP, "10.0.0.7"))
    with pytest.raises(
        UnsafeUrl, match=r"internal\.example\.com resolves to private address 10\.0\.0\.7"
    ):
        check_source_url("https://internal.example.com/feed")


def test_unresolvable_host_gives_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(UnsafeUrl, match=r"cannot resolve host 'nowhere\.invalid'"):
        check_source_url("https://nowhere.invalid/feed")


def test_allow_private_skips_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("must not resolve")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    assert (
        check_source_url("https://feeds.example.org/rss", allow_private=True)
        == "https://feeds.example.org/rss"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM:443/a/b?x=1&y=2#frag", "https://example.com/a/b?x=1&y=2"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/feed", "http://example.com:8080/feed"),
        ("  https://example.com./feed  ", "https://example.com/feed"),
        ("https://bücher.example/feed", "https://xn--bcher-kva.example/feed"),
    ],
)
def test_normalisation(url: str, expected: str) -> None:
    assert check_source_url(url, allow_private=True) == expected


@pytest.mark.parametrize(
    ("address", "public"),
    [
        (PUBLIC_IP, True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("::1", False),
        ("nonsense", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_resolve_checked_returns_the_addresses_to_connect_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        socket, "getaddrinfo", _resolver(PUBLIC_IP, PUBLIC_IP, "2606:2800:220:1::1")
    )
    addresses = resolve_checked("news.example.com", 443)
    assert [str(address) for address in addresses] == [PUBLIC_IP, "2606:2800:220:1::1"]


def test_resolve_checked_refuses_any_internal_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver(PUBLIC_IP, "169.254.169.254"))
    with pytest.raises(
        UnsafeUrl,
        match=r"^refusing connection to meta\.example: it resolves to link-local address 169\.254\.169\.254$",
    ):
        resolve_checked("meta.example", 80)
    assert [str(a) for a in resolve_checked("meta.example", 80, allow_private=True)] == [
        PUBLIC_IP,
        "169.254.169.254",
    ]
