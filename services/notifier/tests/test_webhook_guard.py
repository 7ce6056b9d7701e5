"""The SSRF guard: a webhook goes only to globally reachable addresses, whatever IPv6 form hides an
internal IPv4 one; nothing is sent to a refused address."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest

from snapinfra_notifier.adapters.webhooks import AllowList, Refused, WebhookSender

from .conftest import SECRET

# IPv6 forms that carry an internal IPv4 address, and IPv6 addresses that are not global themselves.
REFUSED = {
    "6to4 of 127.0.0.1": "2002:7f00:1::1",
    "6to4 of the metadata address": "2002:a9fe:a9fe::1",
    "6to4 of 10.0.0.1": "2002:a00:1::1",
    "6to4 of 192.168.1.1": "2002:c0a8:101::1",
    "Teredo, client 127.0.0.1": "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "Teredo, client 192.0.2.45": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "NAT64 of 127.0.0.1": "64:ff9b::7f00:1",
    "NAT64 of the metadata address": "64:ff9b::a9fe:a9fe",
    "local-use NAT64": "64:ff9b:1::a00:1",
    "IPv4-mapped 127.0.0.1": "::ffff:127.0.0.1",
    "IPv4-mapped 10.1.2.3": "::ffff:10.1.2.3",
    "IPv4-translated 127.0.0.1": "::ffff:0:7f00:1",
    "IPv4-compatible 127.0.0.1": "::127.0.0.1",
    "IPv4-compatible 169.254.169.254": "::169.254.169.254",
    "site-local": "fec0::1",
    "unique-local": "fd12:3456::1",
    "the AWS metadata address over IPv6": "fd00:ec2::254",
    "link-local": "fe80::1",
    "multicast": "ff02::1",
    "global-scope multicast": "ff0e::1",
    "unspecified": "::",
    "loopback": "::1",
    "reserved": "5f00::1",
    "documentation": "2001:db8::1",
}
# Forms of public addresses stay reachable.
ADMITTED = {
    "a public IPv6 address": "2606:4700:4700::1111",
    "6to4 of 8.8.8.8": "2002:808:808::1",
    "NAT64 of 8.8.8.8": "64:ff9b::808:808",
    "IPv4-mapped 8.8.8.8": "::ffff:8.8.8.8",
}


def sender_resolving_to(address: str, allow: tuple[str, ...] = ()) -> WebhookSender:
    return WebhookSender(timeout=2.0, allow=AllowList(list(allow)), resolve=lambda _host, _port: [address])


@pytest.mark.parametrize("address", REFUSED.values(), ids=REFUSED.keys())
def test_a_host_resolving_to_an_internal_address_in_any_ipv6_form_is_refused_and_sent_nothing(receiver, address):
    hook = receiver(200)
    port = hook.url.split(":")[2].split("/")[0]
    sender = sender_resolving_to(address, allow=("127.0.0.1", "10.0.0.0/8"))  # IPv4 allowed: not its IPv6 forms
    with pytest.raises(Refused, match="not a public address"):
        sender.post(f"https://hooks.example.com:{port}/hook", "{}", secret=SECRET, message_id="m", at=datetime.now(UTC))
    assert hook.requests == []


@pytest.mark.parametrize("address", ADMITTED.values(), ids=ADMITTED.keys())
def test_a_public_address_in_any_form_passes_the_check(address):
    checked = sender_resolving_to(address).check("https://hooks.example.com/hook")[3]
    assert ipaddress.ip_address(checked) == ipaddress.ip_address(address)


def test_the_checks_can_see_a_request_sent_to_an_allowed_receiver(receiver):
    """The control: the same sender does reach the receiver when the address is allowed."""
    hook = receiver(200)
    port = hook.url.split(":")[2].split("/")[0]
    sender = sender_resolving_to("127.0.0.1", allow=("127.0.0.1",))
    result = sender.post(f"http://127.0.0.1:{port}/hook", "{}", secret=SECRET, message_id="m", at=datetime.now(UTC))
    assert result.ok and len(hook.requests) == 1
