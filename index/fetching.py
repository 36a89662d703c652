"""Downloading one URL for the URL reader, within a ``FetchPolicy``: which addresses, how many bytes, how long.

The default policy fetches whatever URL a person typed (the CLI), as a browser would. A guarded policy
(``public_only=True``, for URLs that arrive from a chat) refuses hosts that resolve to loopback, private,
link-local, multicast, reserved or unspecified addresses, checks every redirect again, and connects to the very
address it checked, so a name cannot resolve to something else between the check and the connection.
Redirects are followed by hand, a bounded number; the body is streamed and cut off at ``max_bytes``; with a
``deadline`` the whole fetch, redirects included, must finish within that many seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from pydantic import BaseModel, ConfigDict, Field, field_validator

from index.errors import SourceError

if TYPE_CHECKING:
    import httpx

__all__ = ["Download", "FetchPolicy", "download"]

USER_AGENT = "quotebot/0.1 (+article reader)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchPolicy(BaseModel):
    """What a URL fetch may do; the defaults fetch any URL with the same size limit as a file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Refuse hosts that resolve to anything but public addresses, on the first request and after every redirect.
    public_only: bool = False
    # Host names (or address literals) fetched even though they resolve to a non-public address.
    allowed_hosts: frozenset[str] = frozenset()
    # Bytes of (decoded) body; the download stops as soon as it would pass this.
    max_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    # Seconds for the whole fetch, redirects included; None: only the per-read timeout applies.
    deadline: float | None = Field(default=None, gt=0)
    # Seconds one connect or read may wait.
    read_timeout: float = Field(default=20.0, gt=0)
    max_redirects: int = Field(default=20, ge=0)

    @field_validator("allowed_hosts", mode="after")
    @classmethod
    def _normalise_hosts(cls, hosts: frozenset[str]) -> frozenset[str]:
        return frozenset(host.strip().lower().rstrip(".").strip("[]") for host in hosts if host.strip())


class Download(BaseModel):
    """A fetched body and where it finally came from (after redirects)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    content_type: str
    body: bytes


def download(url: str, policy: FetchPolicy) -> Download:
    """Fetch ``url`` under ``policy``; every failure is a one-line SourceError. Call it from a thread without an
    event loop running (the CLI, a worker thread): it runs its own loop so that the deadline can cancel a read.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_download(url, policy))
    finally:
        # Not loop.shutdown_default_executor(): a hung DNS look-up must not hold the caller past the deadline.
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _download(url: str, policy: FetchPolicy) -> Download:
    import httpx

    try:
        async with asyncio.timeout(policy.deadline):
            async with httpx.AsyncClient(
                follow_redirects=False,
                timeout=httpx.Timeout(policy.read_timeout),
                headers={"User-Agent": USER_AGENT},
                # A proxy from the environment would connect on our behalf to addresses we never checked.
                trust_env=not policy.public_only,
            ) as client:
                return await _follow(client, url, policy)
    except TimeoutError:
        raise SourceError(
            f"{url!r} did not finish downloading within {policy.deadline:g} s; try again later or save it as a file"
        ) from None
    except httpx.HTTPError as error:
        raise SourceError(
            f"cannot fetch {url!r} ({type(error).__name__}); check the address and your connection"
        ) from error


async def _follow(client: httpx.AsyncClient, url: str, policy: FetchPolicy) -> Download:
    current = url
    for _ in range(policy.max_redirects + 1):
        async with _response(client, url, current, policy) as response:
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                current = urljoin(current, location)
                continue
            if response.status_code >= 400:
                raise SourceError(
                    f"{url!r} answered HTTP {response.status_code}; check the address or save the page as a file"
                )
            body = await _body(response, url, policy.max_bytes)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return Download(url=current, content_type=content_type, body=body)
    raise SourceError(f"{url!r} redirects more than {policy.max_redirects} times; give the final address instead")


@contextlib.asynccontextmanager
async def _response(
    client: httpx.AsyncClient, url: str, current: str, policy: FetchPolicy
) -> AsyncIterator[httpx.Response]:
    """The streamed response for ``current`` (``url`` or a redirect from it), from an address the policy allows."""
    import httpx

    target = httpx.URL(current)
    if target.scheme not in ("http", "https"):
        raise SourceError(f"{url!r} redirects to {current!r}, which is not an http(s) URL; only those are fetched")
    if not policy.public_only:
        requests = [client.build_request("GET", target)]
    else:
        host = target.host.lower().rstrip(".")
        addresses = await _resolve(host, target.port or (443 if target.scheme == "https" else 80), url)
        if host not in policy.allowed_hosts:
            for address in addresses:
                kind = _non_public(address)
                if kind is not None:
                    via = "" if current == url else f"redirects to {current!r}, which "
                    raise SourceError(
                        f"{url!r} {via}points to a {kind} address ({address}); only public addresses are fetched "
                        "from here"
                    )
        # Connect to the address just checked; Host and TLS (SNI and certificate) still name the host.
        requests = [
            client.build_request(
                "GET",
                target.copy_with(host=str(address)),
                headers={"Host": target.netloc.decode("ascii")},
                extensions={"sni_hostname": host} if target.scheme == "https" else {},
            )
            for address in addresses
        ]
    # A host with several addresses: the next one when one refuses, as a browser does.
    for request in requests[:-1]:
        with contextlib.suppress(httpx.ConnectError):
            response = await client.send(request, stream=True)
            break
    else:
        response = await client.send(requests[-1], stream=True)
    try:
        yield response
    finally:
        await response.aclose()


async def _resolve(host: str, port: int, url: str) -> list[_Address]:
    """The addresses ``host`` resolves to, in the resolver's order; an address literal is itself."""
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host)]
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise SourceError(f"cannot fetch {url!r}: the host {host!r} was not found; check the address") from error
    addresses: list[_Address] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise SourceError(f"cannot fetch {url!r}: the host {host!r} has no address; check the address")
    return addresses


def _non_public(address: _Address) -> str | None:
    """What kind of non-public address this is ("loopback", "private", ...), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    kinds = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        # Shared (carrier-grade NAT), documentation and other special-purpose ranges.
        ("non-public", not address.is_global),
    )
    return next((kind for kind, matches in kinds if matches), None)


async def _body(response: httpx.Response, url: str, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise SourceError(f"{url!r} is {int(declared):,} bytes; the download limit is {limit:,} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise SourceError(f"{url!r} is over the download limit of {limit:,} bytes; save a part of it as a file")
        parts.append(chunk)
    return b"".join(parts)
