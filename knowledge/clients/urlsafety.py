"""Checks that a feed or post URL is safe to fetch from the bot's host.

Users can add feed URLs from chat, so every URL the fetcher requests (including
each redirect hop) goes through :func:`check_source_url`. It accepts only
``http``/``https`` URLs with a host and refuses hosts that resolve to
loopback, private, link-local, multicast, reserved, unspecified or otherwise
non-public addresses, so a feed URL cannot be used to probe the local network
(server-side request forgery).

A hostile DNS server could answer differently when the HTTP client connects
a moment later (DNS rebinding), so the fetcher does not trust the check alone:
it connects through :func:`resolve_checked`, which resolves the host once,
checks every address and returns exactly the addresses to connect to.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from urllib.parse import SplitResult, urlsplit, urlunsplit

log = logging.getLogger(__name__)

_ALLOWED_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """Raised when a URL must not be fetched; the message says why."""


def check_source_url(url: str, *, allow_private: bool = False) -> str:
    """Validate a URL before fetching it and return its normalised form.

    Normalisation lower-cases the scheme and host, drops a default port and
    the fragment, and turns an empty path into ``/``; the query is kept.

    Args:
        url: The URL to check.
        allow_private: Accept hosts on private, loopback and other non-public
            addresses (tests and self-hosted feeds). The host is then not
            resolved at all, so offline or mocked transports work too.

    Returns:
        The normalised URL.

    Raises:
        UnsafeUrl: The URL is not http(s), has no host, its host cannot be
            resolved, or it resolves to a non-public address while
            ``allow_private`` is false.
    """
    parts = _split(url)
    host = _ascii_host(parts.hostname or "", url)
    port = _port(parts, url)
    normalised = _rebuild(parts, host, port)
    if allow_private:
        return normalised
    for address in _resolve(host, port or _DEFAULT_PORTS[parts.scheme.lower()]):
        reason = _refusal_reason(address)
        if reason:
            raise UnsafeUrl(f"refusing {normalised}: {host} resolves to {reason} address {address}")
    return normalised


def resolve_checked(host: str, port: int, *, allow_private: bool = False) -> list[IPAddress]:
    """Resolve ``host`` once and return the addresses a connection may use.

    Connect to these addresses (IP literals), never to ``host`` again: a second
    resolution could return a different, internal address.

    Args:
        host: Host name or IP literal (IPv6 without brackets).
        port: Port to connect to (only passed to the resolver).
        allow_private: Accept non-public addresses too.

    Returns:
        The resolved addresses, in resolver order, each once.

    Raises:
        UnsafeUrl: The host cannot be resolved, or (unless ``allow_private``)
            any of its addresses is not public.
    """
    name = host.strip("[]").rstrip(".").lower()
    addresses = list(dict.fromkeys(_resolve(name, port)))
    if not allow_private:
        for address in addresses:
            reason = _refusal_reason(address)
            if reason:
                raise UnsafeUrl(
                    f"refusing connection to {name}: it resolves to {reason} address {address}"
                )
    return addresses


def is_public_address(address: str) -> bool:
    """Tell whether an IP address literal is a public (globally routable) one.

    Args:
        address: An IPv4 or IPv6 address, optionally with an IPv6 zone suffix.

    Returns:
        True for a public address, False for any other or for a non-address.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return _refusal_reason(ip) == ""


def _split(url: str) -> SplitResult:
    if not isinstance(url, str) or not url.strip():
        raise UnsafeUrl("empty URL")
    text = url.strip()
    if any(ch.isspace() or ord(ch) < 0x20 for ch in text):
        raise UnsafeUrl(f"URL contains whitespace or control characters: {text!r}")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise UnsafeUrl(f"malformed URL {text!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _ALLOWED_SCHEMES:
        shown = scheme or "no scheme"
        raise UnsafeUrl(f"only http and https URLs can be fetched, got {shown}: {text!r}")
    if not parts.hostname:
        raise UnsafeUrl(f"URL has no host: {text!r}")
    return parts


def _ascii_host(host: str, url: str) -> str:
    host = host.rstrip(".").lower()
    if not host:
        raise UnsafeUrl(f"URL has no host: {url!r}")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise UnsafeUrl(f"invalid host name {host!r} in {url!r}") from exc


def _port(parts: SplitResult, url: str) -> int | None:
    try:
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"invalid port in {url!r}") from exc
    if port == 0:
        raise UnsafeUrl(f"invalid port in {url!r}")
    return port


def _rebuild(parts: SplitResult, host: str, port: int | None) -> str:
    scheme = parts.scheme.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise UnsafeUrl(f"cannot resolve host {host!r}: {_one_line(exc)}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        try:
            addresses.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        except ValueError:
            log.debug("ignoring non-IP address %r for %s", sockaddr[0], host)
    if not addresses:
        raise UnsafeUrl(f"cannot resolve host {host!r}: no IP addresses")
    return addresses


def _refusal_reason(ip: IPAddress) -> str:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), "")


def _one_line(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return " ".join(text.split())
