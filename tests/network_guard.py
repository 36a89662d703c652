"""Fail loudly on any attempt to reach a host other than 127.0.0.1 (or ::1) while tests run."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["NetworkBlocked", "loopback_only"]


class NetworkBlocked(RuntimeError):
    """A test tried to leave the machine."""


def _check(host: object) -> None:
    if host is None or host == "localhost":
        return
    try:
        if ipaddress.ip_address(str(host).split("%")[0]).is_loopback:
            return
    except ValueError:
        pass
    raise NetworkBlocked(f"tests may only reach 127.0.0.1, not {host!r}")


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Patch socket connects and DNS look-ups so that anything but loopback raises NetworkBlocked."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check(address[0])
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check(address[0])
        return original_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        _check(host.decode() if isinstance(host, bytes) else host)
        return original_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield
