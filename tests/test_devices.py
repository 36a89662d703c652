"""Devices: the one asked for is checked against this machine before any model loads."""

from __future__ import annotations

import pytest

from index import DeviceUnavailable, available_devices, default_embedder
from index.devices import resolve_device


def test_cpu_is_always_there_and_auto_picks_a_device_that_is() -> None:
    here = available_devices()
    assert here[0] == "cpu"
    assert resolve_device("cpu") == "cpu"
    chosen = resolve_device("auto")
    assert chosen == "cpu" if here == ["cpu"] else chosen in {"cuda", "mps"}


def test_a_gpu_that_is_not_there_is_one_line_naming_the_devices_that_are() -> None:
    here = available_devices(probe=True)
    missing = f"cuda:{sum(device.startswith('cuda') for device in here)}"
    with pytest.raises(DeviceUnavailable) as caught:
        default_embedder(missing)
    message = str(caught.value)
    assert message.startswith(f"the device {missing!r} is not on this machine")
    assert message.endswith(f"use one of: {', '.join(here)}") and "\n" not in message


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "tpu", ""])
def test_a_name_that_is_no_device_is_refused(device: str) -> None:
    with pytest.raises(DeviceUnavailable, match="is not a device; use auto, cpu, cuda, cuda:N or mps"):
        resolve_device(device or " ")
