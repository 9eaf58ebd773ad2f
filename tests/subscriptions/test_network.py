"""Which subscriber addresses are refused: checked after resolution, every address."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest
from pydantic import ValidationError

from app.config import DEFAULT_BLOCKED_NETWORKS, Settings
from app.subscriptions.network import BlockedAddress, blocked_network, check_addresses, resolve


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.8.9.10", "::1", "169.254.169.254", "fe80::1", "::ffff:169.254.169.254"],
)
def test_loopback_link_local_and_metadata_addresses_are_blocked_by_default(address: str) -> None:
    assert blocked_network(ip_address(address), DEFAULT_BLOCKED_NETWORKS) is not None


@pytest.mark.parametrize(
    "address", ["10.0.0.7", "192.168.1.20", "172.16.5.5", "fd00::5", "8.8.8.8"]
)
def test_private_and_public_addresses_are_allowed_by_default(address: str) -> None:
    assert blocked_network(ip_address(address), DEFAULT_BLOCKED_NETWORKS) is None


def test_a_name_with_any_blocked_address_is_refused_whole() -> None:
    addresses = [ip_address("10.0.0.7"), ip_address("169.254.169.254")]
    with pytest.raises(BlockedAddress, match=r"crm\.internal resolves to 169\.254\.169\.254"):
        check_addresses("crm.internal", addresses, [ip_network("169.254.0.0/16")])


async def test_a_name_is_checked_by_what_it_resolves_to() -> None:
    addresses = await resolve("localhost", 80)
    assert ip_address("127.0.0.1") in addresses or ip_address("::1") in addresses
    with pytest.raises(BlockedAddress):
        check_addresses("localhost", addresses, DEFAULT_BLOCKED_NETWORKS)


async def test_a_literal_address_is_itself() -> None:
    assert await resolve("[::1]", 80) == [ip_address("::1")]


def test_blocked_networks_are_set_comma_separated() -> None:
    settings = Settings(_env_file=None, subscription_blocked_networks="10.0.0.0/8, ::1/128")  # type: ignore[call-arg]
    assert settings.subscription_blocked_networks == [
        ip_network("10.0.0.0/8"),
        ip_network("::1/128"),
    ]


def test_a_blocked_network_that_is_no_network_is_refused() -> None:
    with pytest.raises(ValidationError, match="subscription_blocked_networks"):
        Settings(_env_file=None, subscription_blocked_networks="10.0.0.1/8")  # type: ignore[call-arg]
