"""Signed webhook POSTs that cannot be pointed at the inside of our network.

The host is resolved once, at send time; every address it resolves to must be public (globally
reachable unicast: not private, unique- or site-local, loopback, link-local, multicast, unspecified,
reserved or a cloud metadata address, nor an IPv6 form that carries such an IPv4 address: mapped,
compatible, translated, NAT64, 6to4 or Teredo) unless the allow-list names the host or a network
holding it. The connection then goes to the address that was checked, never through a second lookup,
while TLS is still verified against the host name (SNI and certificate). Redirects are not followed:
a 3xx is an answer like any other non-2xx.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import urllib3
from standardwebhooks.webhooks import Webhook

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], list[str]]
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class Refused(Exception):
    """The target may not be reached (its address is not public and not allow-listed)."""


@dataclass(frozen=True)
class WebhookResult:
    ok: bool
    http_status: int | None
    latency_ms: int
    error: str | None


def system_resolve(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


# IPv6 forms that carry an IPv4 address in their low 32 bits: a packet to one of them may end up at that
# IPv4 address (through a translator, a relay, or the host's own stack), so they are judged by it.
_CARRY_IPV4_LOW_BITS = (
    ipaddress.ip_network("::/96"),  # IPv4-compatible (deprecated), and :: and ::1 themselves
    ipaddress.ip_network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.ip_network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64, well-known prefix
)
# Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the operator's prefix length.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address carries: mapped, compatible, translated, NAT64, 6to4, Teredo."""
    found = [ipaddress.IPv4Address(address.packed[12:])] if any(address in n for n in _CARRY_IPV4_LOW_BITS) else []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # the server's and the (un-obfuscated) client's
    return found


def _is_public(address: Address) -> bool:
    """Only globally reachable unicast addresses; an IPv6 address that carries IPv4 ones is public only if
    every IPv4 address it carries is (2002:7f00:1:: is 127.0.0.1 behind a 6to4 relay)."""
    if address in METADATA_ADDRESSES:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return False
        embedded = _embedded_ipv4(address)
        if embedded:
            return all(_is_public(v4) for v4 in embedded)
        return address.is_global and not (address.is_multicast or address.is_reserved or address.is_site_local)
    return address.is_global and not (address.is_multicast or address.is_reserved)


class AllowList:
    """Host names and networks (`127.0.0.1`, `localhost`, `10.0.0.0/8`) a webhook may reach though not public."""

    def __init__(self, entries: Sequence[str]):
        self.hosts = {e.lower() for e in entries if not _network(e)}
        self.networks = [n for e in entries if (n := _network(e)) is not None]

    def names(self, host: str) -> bool:
        """The host itself is on the list (by name, or as an address inside a listed network)."""
        host = host.lower().strip("[]")
        if host in self.hosts:
            return True
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(literal in network for network in self.networks)

    def admits(self, host: str, address: Address) -> bool:
        return self.names(host) or any(address in network for network in self.networks)


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        return None


class WebhookSender:
    def __init__(self, *, timeout: float, allow: AllowList, resolve: Resolve = system_resolve):
        self._timeout = timeout
        self._allow = allow
        self._resolve = resolve

    def check(self, url: str) -> tuple[str, str, int, str]:
        """(scheme, host, port, the address to connect to) or Refused."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host:
            raise Refused(f"not an http(s) URL: {parts.scheme!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if parts.scheme == "http" and not self._allow.names(host):
            raise Refused(f"plain http is only allowed to allow-listed hosts, not {host}")
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in self._resolve(host, port)]
        except (OSError, UnicodeError) as exc:
            raise ConnectionError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise ConnectionError(f"{host} resolves to no address")
        for address in addresses:
            if not _is_public(address) and not self._allow.admits(host, address):
                raise Refused(f"{host} resolves to {address}, which is not a public address")
        return parts.scheme, host, port, str(addresses[0])

    def post(self, url: str, body: str, *, secret: str, message_id: str, at: datetime) -> WebhookResult:
        """POST `body`, signed the Standard Webhooks way; raises Refused before any connection."""
        scheme, host, port, address = self.check(url)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        timestamp = str(int(at.timestamp()))
        headers = {
            "Host": host if port in (80, 443) else f"{host}:{port}",
            "Content-Type": "application/json",
            "User-Agent": "snapinfra-notifier",
            "webhook-id": message_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": Webhook(secret).sign(message_id, at, body),
        }
        timeout = urllib3.Timeout(connect=self._timeout, read=self._timeout)
        pool: urllib3.HTTPConnectionPool
        if scheme == "https":
            # Connect to the checked address; SNI and the certificate check still use the host name.
            pool = urllib3.HTTPSConnectionPool(
                address, port, server_hostname=host, assert_hostname=host, timeout=timeout, retries=False
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
        started = time.perf_counter()
        try:
            with pool:
                # Only the status matters; the body is never read, so a receiver cannot make us hold a large one.
                response = pool.urlopen(
                    "POST",
                    path,
                    body=body.encode(),
                    headers=headers,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=False,
                )
                response.close()
        except urllib3.exceptions.HTTPError as exc:
            return WebhookResult(False, None, _ms(started), f"{type(exc).__name__}: {str(exc)[:300]}")
        latency = _ms(started)
        if 200 <= response.status < 300:
            return WebhookResult(True, response.status, latency, None)
        return WebhookResult(False, response.status, latency, f"the receiver answered {response.status}")


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
