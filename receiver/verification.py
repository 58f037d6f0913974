"""Callback verification per provider key: IP allowlist, HTTP Basic, path token, signatures."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from receiver import signatures
from receiver.adapters.base import Adapter
from receiver.model import RawRequest
from receiver.settings import IpNetwork, ProviderSettings

PATH_TOKEN_PARAM = "token"


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str


def check(
    request: RawRequest, provider: ProviderSettings, adapter: Adapter, *, now: float
) -> Verdict:
    """Every configured check must pass. Comparisons are constant-time."""
    if not provider.has_verification:
        return Verdict(False, "no verification configured")
    if provider.allow_ips and not ip_allowed(request.remote, provider):
        return Verdict(False, "source address not in allow_ips")
    if provider.basic_auth and not _basic_ok(request, provider):
        return Verdict(False, "HTTP basic credentials missing or wrong")
    if provider.path_token and not _token_ok(request, provider):
        return Verdict(False, "path token missing or wrong")
    if provider.signing_secrets or provider.public_keys:
        scheme = provider.scheme or adapter.signature_scheme
        if scheme is None:
            return Verdict(False, f"adapter {adapter.name!r} has no signature scheme; set scheme")
        context = signatures.SignatureContext(
            now=now,
            tolerance_seconds=provider.timestamp_tolerance,
            public_url=provider.public_url,
            options=provider.options(),
        )
        result = signatures.verify(scheme, request, provider.signature_keys(), context)
        if not result.ok:
            return Verdict(False, f"signature: {result.reason}")
    return Verdict(True, "ok")


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted_proxies: Sequence[IpNetwork]
) -> str | None:
    """The address `allow_ips` is checked against: the connection's peer, unless the peer is
    one of `trusted_proxies`; then `X-Forwarded-For` is read from the right (each proxy appends
    the address it saw) and the first address that is not a trusted proxy is the client.

    Without trusted proxies the header is never read: anyone can send one. An entry that is
    not an address gives None (no address: allow_ips fails closed).
    """
    if not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return None
        client = str(address)
        if not any(address in network for network in trusted_proxies):
            break
    return client


def _trusted(peer: str | None, trusted_proxies: Sequence[IpNetwork]) -> bool:
    address = _address(peer or "")
    return address is not None and any(address in network for network in trusted_proxies)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address, also as `1.2.3.4:80` or `[::1]:80` (some proxies add the port)."""
    candidates = [text]
    if text.startswith("[") and "]" in text:
        candidates.append(text[1 : text.index("]")])
    elif text.count(":") == 1:
        candidates.append(text.split(":", 1)[0])
    for candidate in candidates:
        try:
            return ipaddress.ip_address(candidate)
        except ValueError:
            continue
    return None


def ip_allowed(remote: str | None, provider: ProviderSettings) -> bool:
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in network for network in provider.allow_ips)


def _basic_ok(request: RawRequest, provider: ProviderSettings) -> bool:
    assert provider.basic_auth is not None
    header = request.header("authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:  # not base64 (or not ASCII at all), or not UTF-8 inside
        return False
    expected = provider.basic_auth
    user_ok = signatures.same(user, expected.user)
    password_ok = signatures.same(password, expected.password.get_secret_value())
    return user_ok and password_ok


def _token_ok(request: RawRequest, provider: ProviderSettings) -> bool:
    assert provider.path_token is not None
    given = request.query_dict().get(PATH_TOKEN_PARAM, "")
    return signatures.same(given, provider.path_token.get_secret_value())
