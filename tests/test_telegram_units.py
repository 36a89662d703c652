"""Settings, the answer store and the emulator's validator: the Telegram parts that need no model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from network_guard import NetworkBlocked, loopback_only
from telegram_emulator import BOT_TOKEN, EntityError, parse_telegram_html

from bot.config import ConfigError, Settings, load_settings
from bot.telegram import AnswerStore, StoredAnswer, build_application
from index.models import Answer


@pytest.fixture(autouse=True)
def _quotebot_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A clean environment and a working directory without a .env file."""
    for name in ("TELEGRAM_TOKEN", "ADMINS", "LIBRARY", "TELEGRAM_BASE_URL", "TELEGRAM_WEBHOOK_SECRET"):
        monkeypatch.delenv(f"QUOTEBOT_{name}", raising=False)
    monkeypatch.chdir(tmp_path)
    with loopback_only():
        yield


def test_settings_read_the_environment_and_a_dotenv_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    Path(".env").write_text(f"QUOTEBOT_TELEGRAM_TOKEN={BOT_TOKEN}\nQUOTEBOT_ADMINS=1, 2\n", encoding="utf-8")
    monkeypatch.setenv("QUOTEBOT_LIBRARY", str(tmp_path / "lib"))
    settings = load_settings()
    assert settings.telegram_token_value() == BOT_TOKEN
    assert settings.admins == {1, 2}
    assert settings.library == tmp_path / "lib"
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert BOT_TOKEN not in repr(settings) and BOT_TOKEN not in str(settings.model_dump())
    monkeypatch.setenv("QUOTEBOT_ADMINS", "[3, 4]")
    assert load_settings().admins == {3, 4}
    assert load_settings().is_admin(3) and not load_settings().is_admin(None)


@pytest.mark.parametrize("admins", ["abc", "1,x", "[1,"])
def test_malformed_admins_are_one_line_config_errors(monkeypatch: pytest.MonkeyPatch, admins: str) -> None:
    monkeypatch.setenv("QUOTEBOT_ADMINS", admins)
    with pytest.raises(ConfigError, match=r"^QUOTEBOT_ADMINS is invalid") as caught:
        load_settings()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("not-a-token", "is malformed"),
        ("123456:short", "is malformed"),
        ("abc:AAFakeTokenForTheEmulatorOnly_0123456", "is malformed"),
    ],
)
def test_a_missing_or_malformed_token_fails_before_any_network_call(token: str | None, message: str) -> None:
    settings = Settings(_env_file=None, telegram_token=token)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=message) as caught:
        build_application(settings, library=None)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
    if token:
        assert token not in str(caught.value)


def test_a_valid_token_builds_without_touching_the_network() -> None:
    settings = Settings(_env_file=None, telegram_token=BOT_TOKEN)  # type: ignore[call-arg]
    application = build_application(settings, library=None)  # type: ignore[arg-type]
    assert application.bot.token == BOT_TOKEN


def test_the_network_guard_refuses_other_hosts() -> None:
    import socket

    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("api.telegram.org", 443)
    with socket.socket() as sock, pytest.raises(NetworkBlocked):
        sock.connect(("149.154.167.220", 443))


def answer(question: str) -> StoredAnswer:
    return StoredAnswer(Answer(question=question, found=False, quotes=[]), depth=2)


def test_answer_store_keys_are_short_and_it_forgets_the_least_recently_used() -> None:
    store = AnswerStore(capacity=3)
    keys = [store.put(answer(f"q{number}")) for number in range(3)]
    assert all(len(key.encode()) == 8 for key in keys)
    assert store.get(keys[0]) is not None
    store.put(answer("q3"))
    assert store.get(keys[1]) is None
    assert store.get(keys[0]) is not None and len(store) == 3
    store.put(answer("again"), key=keys[0])
    entry = store.get(keys[0])
    assert entry is not None and entry.answer.question == "again"


def test_answer_store_entries_expire() -> None:
    store = AnswerStore(lifetime=0.0)
    key = store.put(answer("q"))
    assert store.get(key) is None


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("<b>open", "Can't find end tag"),
        ("<b>x</i>", "Unmatched end tag"),
        ("<script>x</script>", "Unsupported start tag"),
        ("a < b", "Unsupported start tag"),
        ("fish & chips", "Character '&' is reserved"),
        ("<a>link</a>", '"href"'),
        ("<span>x</span>", "tg-spoiler"),
        ("<br/>", "Unsupported start tag"),
        ("<code><b>x</b></code>", "can't be nested"),
    ],
)
def test_the_emulator_rejects_what_telegram_rejects(markup: str, error: str) -> None:
    with pytest.raises(EntityError, match=error):
        parse_telegram_html(markup)


def test_the_emulator_parses_entities_with_utf16_offsets() -> None:
    text, entities = parse_telegram_html('🙂 <b>bold &amp; <i>both</i></b> <a href="https://e.org/?a=1&amp;b=2">l</a>')
    assert text == "🙂 bold & both l"
    kinds: dict[str, Any] = {entity["type"]: entity for entity in entities}
    assert kinds["bold"] == {"type": "bold", "offset": 3, "length": 11}
    assert kinds["italic"]["offset"] == 10
    assert kinds["text_link"]["url"] == "https://e.org/?a=1&b=2"


def test_the_emulator_refuses_long_messages_and_long_button_data() -> None:
    from telegram_emulator import BotApiEmulator, Chat

    async def scenario() -> dict[str, Any]:
        async with BotApiEmulator() as api:
            api.state.chats[1] = Chat(1)
            results = {}
            import aiohttp

            async with aiohttp.ClientSession() as session:
                url = f"{api.base_url}{BOT_TOKEN}/sendMessage"
                for name, data in {
                    "long": {"chat_id": "1", "text": "🙂" * 2049, "parse_mode": "HTML"},
                    "fits": {"chat_id": "1", "text": "x" * 4096},
                    "button": {
                        "chat_id": "1",
                        "text": "x",
                        "reply_markup": '{"inline_keyboard": [[{"text": "b", "callback_data": "%s"}]]}' % ("d" * 65),
                    },
                    "throttled": {"chat_id": "1", "text": "x"},
                }.items():
                    if name == "throttled":
                        api.fail_next(1)
                    async with session.post(url, data=data) as response:
                        results[name] = (response.status, await response.json())
            return results

    results = asyncio.run(scenario())
    assert results["long"] == (400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"})
    assert results["fits"][0] == 200
    assert results["button"][1]["description"] == "Bad Request: BUTTON_DATA_INVALID"
    assert results["throttled"] == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )


def test_the_emulator_serves_files_and_takes_documents_from_the_real_bot() -> None:
    from telegram import Bot
    from telegram_emulator import BotApiEmulator, Chat, User

    async def scenario() -> None:
        async with BotApiEmulator() as api:
            user = User(7, "Uma")
            chat = Chat(user.id)
            upload = api.send_document(chat, user, "notes.txt", "Grüße & <b>".encode())
            async with Bot(BOT_TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
                telegram_file = await bot.get_file(upload["document"]["file_id"])
                assert bytes(await telegram_file.download_as_bytearray()) == "Grüße & <b>".encode()
                await bot.send_document(
                    chat.id, b"exported", filename="export.txt", caption="<b>done</b>", parse_mode="HTML"
                )
            [sent] = api.messages_in(chat.id)
            assert sent.document == b"exported" and sent.entity_texts("bold") == ["done"]

    asyncio.run(scenario())
