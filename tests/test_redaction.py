"""The bot token never appears in what the process prints: the redaction filter, and real runs of the bot."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from network_guard import loopback_only
from telegram_emulator import BOT_TOKEN, BotApiEmulator, Chat, User

from bot.redaction import REPLACEMENT, RedactSecret, redact, redact_secret
from bot.telegram import APOLOGY
from index import Library

ROOT = Path(__file__).resolve().parent.parent
SECRET_PART = BOT_TOKEN.split(":", 1)[1]
QUOTEBOT = [sys.executable, "-c", "from bot.cli import main; main()"]
ADMIN = User(4242, "Ada")
REFUSED_TOKEN = (
    "error: the Bot API at 127.0.0.1:{port} refused QUOTEBOT_TELEGRAM_TOKEN (revoked or mistyped); "
    "copy the token @BotFather gives again."
)


def assert_no_token(text: str) -> None:
    """Not the token, nor its secret part after the colon, in any letter case."""
    assert SECRET_PART.lower() not in text.lower()


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only():
        yield


def test_the_filter_redacts_messages_arguments_tracebacks_and_stacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecret(BOT_TOKEN))
    log = logging.getLogger("quotebot.test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("Set Bot API URL: http://127.0.0.1/bot%s", BOT_TOKEN)
        log.warning(f"in the message itself: {BOT_TOKEN}")
        log.warning(f"capitalised by PTB: {BOT_TOKEN.lower()}; percent-encoded: {BOT_TOKEN.replace(':', '%3A')}")
        try:
            raise RuntimeError(f"The token `{BOT_TOKEN}` was rejected by the server.")
        except RuntimeError:
            log.exception("an update failed", stack_info=True)
    finally:
        log.removeHandler(handler)
    printed = stream.getvalue()
    assert_no_token(printed)
    assert f"Set Bot API URL: http://127.0.0.1/bot{REPLACEMENT}" in printed
    assert f"in the message itself: {REPLACEMENT}" in printed
    assert f"capitalised by PTB: {REPLACEMENT}; percent-encoded: 123456789%3A{REPLACEMENT}" in printed
    assert f"RuntimeError: The token `{REPLACEMENT}` was rejected by the server." in printed
    assert "Stack (most recent call last)" in printed


def test_redact_secret_covers_root_handlers_uncaught_tracebacks_and_printed_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    redact_secret(BOT_TOKEN)
    redact_secret(BOT_TOKEN)
    assert [type(item) for item in handler.filters] == [RedactSecret]
    assert logging.getLogger("httpx").level == logging.WARNING
    try:
        raise ValueError(f"bad url http://127.0.0.1/bot{BOT_TOKEN}/getMe")
    except ValueError as error:
        sys.excepthook(ValueError, error, error.__traceback__)
    printed = capsys.readouterr().err
    assert_no_token(printed)
    assert f"/bot{REPLACEMENT}/getMe" in printed and "Traceback" in printed
    assert redact(f"InvalidToken: The token `{BOT_TOKEN}` was rejected") == (
        f"InvalidToken: The token `{REPLACEMENT}` was rejected"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(tmp_path: Path, base: str, *, debug: bool) -> dict[str, str]:
    """A clean environment for `quotebot telegram`: the emulator's token and URLs, a fresh empty library."""
    values = {name: value for name, value in os.environ.items() if not name.startswith("QUOTEBOT_")}
    values.update(
        PYTHONPATH=str(ROOT),
        QUOTEBOT_TELEGRAM_TOKEN=BOT_TOKEN,
        QUOTEBOT_TELEGRAM_BASE_URL=f"{base}/bot",
        QUOTEBOT_TELEGRAM_BASE_FILE_URL=f"{base}/file/bot",
        QUOTEBOT_LIBRARY=str(tmp_path / "library"),
        # No demo articles: nothing to index, so no model loads and a run takes a second or two.
        QUOTEBOT_SEEDS=str(tmp_path / "no-seeds"),
        QUOTEBOT_ADMINS=str(ADMIN.id),
    )
    if debug:
        values["QUOTEBOT_DEBUG"] = "1"
    return values


async def run_bot(tmp_path: Path, base: str, *, debug: bool) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *QUOTEBOT,
        "telegram",
        cwd=tmp_path,
        env=environment(tmp_path, base, debug=debug),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


@pytest.mark.slow
@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])
@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (401, REFUSED_TOKEN),
        (404, REFUSED_TOKEN),
        (
            "refused",
            "error: cannot reach the Bot API at 127.0.0.1:{port} (NetworkError: httpx.ConnectError: All "
            "connection attempts failed); check the network and QUOTEBOT_TELEGRAM_BASE_URL.",
        ),
    ],
)
def test_a_refused_token_or_an_unreachable_api_is_one_line_without_the_token(
    tmp_path: Path, failure: int | str, expected: str, debug: bool
) -> None:
    async def scenario() -> tuple[int, int, str, str]:
        if failure == "refused":
            port = free_port()
            return (port, *await run_bot(tmp_path, f"http://127.0.0.1:{port}", debug=debug))
        async with BotApiEmulator() as api:
            assert isinstance(failure, int)
            api.refuse_token(failure)
            result = await run_bot(tmp_path, f"http://127.0.0.1:{api.port}", debug=debug)
            assert [method for method, _ in api.state.requests] == ["getMe"]
            return (api.port, *result)

    port, returncode, stdout, stderr = asyncio.run(scenario())
    assert_no_token(stdout + stderr)
    assert returncode == 1 and stdout == ""
    lines = stderr.strip().splitlines()
    assert lines[-1] == expected.format(port=port)
    assert "Traceback" not in stderr
    # The token is checked before the library is opened: nothing was indexed for a bot that cannot start.
    assert not (tmp_path / "library").exists()
    if debug:
        assert f"DEBUG telegram.Bot: Set Bot API URL: http://127.0.0.1:{port}/bot{REPLACEMENT}" in lines
        assert any("Calling Bot API endpoint `getMe`" in line for line in lines)
    else:
        assert lines == [expected.format(port=port)]


@pytest.mark.slow
def test_a_running_bot_with_debug_logging_never_prints_the_token(tmp_path: Path) -> None:
    # A library named in QUOTEBOT_LIBRARY must exist (only the default one is made on first use).
    Library.open(tmp_path / "library").close()

    async def scenario() -> tuple[int, str, str, list[str]]:
        async with BotApiEmulator() as api:
            process = await asyncio.create_subprocess_exec(
                *QUOTEBOT,
                "telegram",
                cwd=tmp_path,
                env=environment(tmp_path, f"http://127.0.0.1:{api.port}", debug=True),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            output = asyncio.ensure_future(process.communicate())
            try:
                await api.wait_until(lambda: any(method == "getUpdates" for method, _ in api.state.requests), 60)
                chat = Chat(ADMIN.id)
                # A failure whose message holds the token: the error handler logs it with its traceback.
                api.reject_next("sendMessage", f"Bad Request: chat of bot{BOT_TOKEN} not found")
                api.send_text(chat, ADMIN, "/help")
                api.send_text(chat, ADMIN, "/add http://127.0.0.1:9/internal")
                replies = await api.wait_for_messages(chat.id, 2, timeout=30)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(output, 60)
            assert process.returncode is not None
            return process.returncode, stdout.decode(), stderr.decode(), sorted(reply.text for reply in replies)

    returncode, stdout, stderr, replies = asyncio.run(scenario())
    assert_no_token(stdout + stderr)
    assert returncode == 0, stderr[-2000:]
    assert replies == [
        "'http://127.0.0.1:9/internal' points to a loopback address (127.0.0.1); only public addresses are fetched "
        "from here",
        APOLOGY,
    ]
    assert "DEBUG telegram.ext.ExtBot: Set Bot API URL: http://127.0.0.1:" in stderr
    assert "Calling Bot API endpoint `sendMessage`" in stderr
    assert "ERROR bot.telegram: an update failed\nTraceback (most recent call last):" in stderr
    # PTB capitalises the message, which lowercases the token: redacted all the same.
    assert f"telegram.error.BadRequest: Chat of bot{REPLACEMENT} not found" in stderr


@pytest.mark.slow
def test_a_mistyped_library_stops_the_bot_with_one_line(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, str, str]:
        async with BotApiEmulator() as api:
            return await run_bot(tmp_path, f"http://127.0.0.1:{api.port}", debug=False)

    returncode, stdout, stderr = asyncio.run(scenario())
    assert returncode == 1 and stdout == ""
    assert stderr.strip().splitlines() == [
        f"error: there is no quotebot library in '{tmp_path / 'library'}'; check the folder's name, or create a "
        "library there by adding articles to it"
    ]
    assert not (tmp_path / "library").exists()
