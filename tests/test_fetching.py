"""URL fetches under a FetchPolicy, against a real server on 127.0.0.1: addresses, redirects, bytes, time."""

from __future__ import annotations

import ipaddress
import time

import pytest
from local_web import INTERNAL_TEXT

from index.articles import read_sources
from index.errors import SourceError
from index.fetching import FetchPolicy, download

GUARDED = FetchPolicy(public_only=True, max_redirects=5)
# The tests' own server is on 127.0.0.1, so reaching it from a guarded fetch needs it allowed by name.
LOCAL_ALLOWED = FetchPolicy(public_only=True, allowed_hosts=frozenset({"127.0.0.1"}), max_redirects=5)


@pytest.mark.parametrize(
    ("url", "kind", "address"),
    [
        ("http://127.0.0.1:8080/internal.txt", "loopback", "127.0.0.1"),
        ("http://127.1.2.3/", "loopback", "127.1.2.3"),
        ("http://[::1]/", "loopback", "::1"),
        # Python 3.13 writes this address as ::ffff:127.0.0.1, older ones as ::ffff:7f00:1.
        ("http://[::ffff:127.0.0.1]/", "loopback", str(ipaddress.ip_address("::ffff:127.0.0.1"))),
        ("http://10.0.0.7/admin", "private", "10.0.0.7"),
        ("http://192.168.1.1/", "private", "192.168.1.1"),
        ("https://172.16.0.1/", "private", "172.16.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "link-local", "169.254.169.254"),
        ("http://224.0.0.1/", "multicast", "224.0.0.1"),
        ("http://240.0.0.1/", "reserved", "240.0.0.1"),
        ("http://0.0.0.0:8000/", "unspecified", "0.0.0.0"),
        ("http://100.64.0.1/", "non-public", "100.64.0.1"),
    ],
)
def test_guarded_fetches_refuse_non_public_addresses_without_connecting(url: str, kind: str, address: str) -> None:
    # Connecting to any of these (but 127.0.0.1) would fail the test with NetworkBlocked, not SourceError.
    with pytest.raises(SourceError) as refused:
        list(read_sources([url], fetch=GUARDED))
    assert str(refused.value) == (
        f"{url!r} points to a {kind} address ({address}); only public addresses are fetched from here"
    )


def test_a_host_name_is_checked_by_the_addresses_it_resolves_to(web_server: str) -> None:
    url = web_server.replace("127.0.0.1", "localhost") + "/internal.txt"
    with pytest.raises(SourceError, match=r"points to a loopback address \((127\.0\.0\.1|::1)\)"):
        download(url, GUARDED)


def test_allowed_hosts_are_fetched_although_they_are_not_public(web_server: str) -> None:
    fetched = download(f"{web_server}/internal.txt", LOCAL_ALLOWED)
    assert fetched.body == INTERNAL_TEXT
    assert fetched.url == f"{web_server}/internal.txt" and fetched.content_type == "text/plain"
    shouted = FetchPolicy(public_only=True, allowed_hosts=frozenset({" LOCALHOST. "}))
    assert shouted.allowed_hosts == {"localhost"}
    local_name = web_server.replace("127.0.0.1", "localhost") + "/internal.txt"
    assert download(local_name, shouted).body == INTERNAL_TEXT


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("http://localhost:{port}/internal.txt", "which points to a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "which points to a link-local address (169.254.169.254)"),
        ("http://10.1.2.3/", "which points to a private address (10.1.2.3)"),
        ("file:///etc/hostname", "which is not an http(s) URL"),
    ],
)
def test_every_redirect_is_checked_again(web_server: str, target: str, expected: str) -> None:
    port = web_server.rsplit(":", 1)[1]
    url = f"{web_server}/redirect?to={target.format(port=port)}"
    with pytest.raises(SourceError) as refused:
        download(url, LOCAL_ALLOWED)
    message = str(refused.value)
    assert message.startswith(f"{url!r} redirects to {target.format(port=port)!r}, ") and expected in message


def test_redirects_within_allowed_hosts_are_followed_to_the_final_url(web_server: str) -> None:
    fetched = download(f"{web_server}/redirect?to=/internal.txt", LOCAL_ALLOWED)
    assert fetched.body == INTERNAL_TEXT and fetched.url == f"{web_server}/internal.txt"


def test_redirects_are_bounded(web_server: str) -> None:
    with pytest.raises(SourceError, match=r"redirects more than 5 times; give the final address instead"):
        download(f"{web_server}/loop", LOCAL_ALLOWED)


def test_the_default_policy_still_fetches_any_url_the_user_typed(web_server: str) -> None:
    [document] = read_sources([f"{web_server}/redirect?to=/internal.txt"])
    assert document.text == INTERNAL_TEXT.decode() and document.source == f"{web_server}/internal.txt"


def test_the_body_is_streamed_and_cut_off_at_the_byte_cap(web_server: str) -> None:
    capped = LOCAL_ALLOWED.model_copy(update={"max_bytes": 100_000})
    assert download(f"{web_server}/big?bytes=100000", capped).body == b"a" * 100_000
    url = f"{web_server}/big?bytes=5000000"
    with pytest.raises(SourceError) as refused:
        download(url, capped)
    assert str(refused.value) == f"{url!r} is over the download limit of 100,000 bytes; save a part of it as a file"


def test_a_declared_length_over_the_cap_is_refused_before_reading(web_server: str) -> None:
    url = f"{web_server}/declared?bytes=5000000000"
    with pytest.raises(SourceError) as refused:
        download(url, LOCAL_ALLOWED.model_copy(update={"max_bytes": 1_000_000}))
    assert str(refused.value) == f"{url!r} is 5,000,000,000 bytes; the download limit is 1,000,000 bytes"


def test_the_deadline_covers_the_whole_fetch_not_each_read(web_server: str) -> None:
    # The server sends a byte every 0.2 s: a 20 s per-read timeout never fires, the 1 s deadline does.
    url = f"{web_server}/drip"
    started = time.monotonic()
    with pytest.raises(SourceError) as refused:
        download(url, LOCAL_ALLOWED.model_copy(update={"deadline": 1.0}))
    elapsed = time.monotonic() - started
    assert str(refused.value) == (
        f"{url!r} did not finish downloading within 1 s; try again later or save it as a file"
    )
    assert 0.9 < elapsed < 3.0
