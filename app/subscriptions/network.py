"""An HTTP transport that refuses to connect to blocked addresses.

The check runs where the connection is made, after DNS resolution, and the connection
goes to the very address that was checked: a name that resolves to an allowed address
when the subscription is made, and to the cloud metadata service later (DNS rebinding),
is refused on that later delivery. A name with any blocked address is refused whole.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream
from httpcore._backends.auto import AutoBackend

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


class BlockedAddress(Exception):
    """The subscriber's host resolves to an address in SUBSCRIPTION_BLOCKED_NETWORKS."""


def blocked_network(address: Address, networks: Sequence[Network]) -> Network | None:
    """The blocked network holding `address` (an IPv4 address mapped into IPv6 counts as
    itself), or None."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network in networks:
        if address.version == network.version and address in network:
            return network
    return None


async def resolve(host: str, port: int) -> list[Address]:
    """The addresses `host` resolves to, in the resolver's order (a literal IP as itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[Address] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def check_addresses(host: str, addresses: Sequence[Address], networks: Sequence[Network]) -> None:
    """Raise BlockedAddress when any of `host`'s addresses is blocked."""
    for address in addresses:
        network = blocked_network(address, networks)
        if network is not None:
            raise BlockedAddress(
                f"{host} resolves to {address}, which is in SUBSCRIPTION_BLOCKED_NETWORKS "
                f"({network})"
            )


class GuardedBackend(AsyncNetworkBackend):
    """Resolves, checks every address, then connects to a checked address."""

    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = list(networks)
        self.inner = AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        """Connect to the first of `host`'s addresses that answers, if none is blocked."""
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        check_addresses(host, addresses, self.networks)
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        """Never: subscribers are reached over TCP only."""
        raise BlockedAddress("unix sockets are not subscriber addresses")

    async def sleep(self, seconds: float) -> None:
        """As the default backend sleeps."""
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, its connections made by GuardedBackend, no proxy from the
    environment (a proxy would make the connection, unchecked)."""

    def __init__(self, networks: Sequence[Network]) -> None:
        super().__init__(trust_env=False)
        # httpx builds its pool without a way to pass the network backend; the pool is
        # built again with the same defaults and the guarded backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=GuardedBackend(networks),
        )
