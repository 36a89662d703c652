"""Settings, the answer store and the emulator's validator: the Telegram parts that need no model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from network_guard import NetworkBlocked, loopback_only
from telegram_emulator import BOT_TOKEN, EntityError, parse_telegram_html

from bot.access import NOT_YOURS, OTHER_CHAT, access_warning, button_refusal, stranger_text
from bot.answers import AnswerStore, StoredAnswer
from bot.config import ConfigError, Settings, load_settings
from bot.telegram import build_application
from index.models import Answer


@pytest.fixture(autouse=True)
def _quotebot_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A clean environment and a working directory without a .env file."""
    for name in (
        "TELEGRAM_TOKEN",
        "ADMINS",
        "USERS",
        "CHATS",
        "PUBLIC",
        "ALLOWED_HOSTS",
        "MAX_DOWNLOAD_BYTES",
        "FETCH_DEADLINE",
        "QUESTIONS_IN_FLIGHT",
        "QUESTIONS_PER_MINUTE",
        "ENGINE_WORKERS",
        "STORED_ANSWERS",
        "STORED_ANSWERS_PER_USER",
        "LIBRARY",
        "TELEGRAM_BASE_URL",
        "TELEGRAM_WEBHOOK_SECRET",
    ):
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
    assert settings.library == str(tmp_path / "lib")
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


def test_access_and_limit_settings_default_to_admins_only_and_twenty_megabytes() -> None:
    settings = load_settings()
    assert (settings.users, settings.chats, settings.public, settings.allowed_hosts) == (
        frozenset(),
        frozenset(),
        False,
        frozenset(),
    )
    assert settings.admins_only
    assert settings.max_download_bytes == 20 * 1024 * 1024 and settings.fetch_deadline == 30.0


def test_fair_share_settings_default_to_two_in_flight_twenty_a_minute_and_two_engine_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert (settings.questions_in_flight, settings.questions_per_minute, settings.engine_workers) == (2, 20, 2)
    assert (settings.stored_answers, settings.stored_answers_per_user) == (10_000, 500)
    for name, value in (
        ("QUESTIONS_IN_FLIGHT", "5"),
        ("QUESTIONS_PER_MINUTE", "60"),
        ("ENGINE_WORKERS", "4"),
        ("STORED_ANSWERS", "2000"),
        ("STORED_ANSWERS_PER_USER", "50"),
    ):
        monkeypatch.setenv(f"QUOTEBOT_{name}", value)
    settings = load_settings()
    assert (settings.questions_in_flight, settings.questions_per_minute, settings.engine_workers) == (5, 60, 4)
    assert (settings.stored_answers, settings.stored_answers_per_user) == (2000, 50)


def test_access_and_limit_settings_are_read_like_admins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTEBOT_USERS", "7, 8")
    monkeypatch.setenv("QUOTEBOT_CHATS", "[-1001234567890, -42]")
    monkeypatch.setenv("QUOTEBOT_PUBLIC", "true")
    monkeypatch.setenv("QUOTEBOT_ALLOWED_HOSTS", "intranet.example wiki.example")
    monkeypatch.setenv("QUOTEBOT_MAX_DOWNLOAD_BYTES", "1000000")
    monkeypatch.setenv("QUOTEBOT_FETCH_DEADLINE", "12.5")
    settings = load_settings()
    assert settings.users == {7, 8} and settings.chats == {-1001234567890, -42} and settings.public
    assert settings.allowed_hosts == {"intranet.example", "wiki.example"}
    assert settings.max_download_bytes == 1_000_000 and settings.fetch_deadline == 12.5
    assert not settings.admins_only


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("USERS", "alice"),
        ("CHATS", "-100x"),
        ("PUBLIC", "perhaps"),
        ("MAX_DOWNLOAD_BYTES", "0"),
        ("FETCH_DEADLINE", "-1"),
        ("QUESTIONS_IN_FLIGHT", "0"),
        ("QUESTIONS_PER_MINUTE", "many"),
        ("ENGINE_WORKERS", "0"),
        ("STORED_ANSWERS_PER_USER", "-5"),
    ],
)
def test_malformed_access_and_limit_settings_are_one_line_config_errors(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"QUOTEBOT_{name}", value)
    with pytest.raises(ConfigError, match=rf"^QUOTEBOT_{name} is invalid") as caught:
        load_settings()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "user_id", "chat_id", "allowed"),
    [
        ({"admins": {1}}, 1, 1, True),
        ({"admins": {1}}, 1, -500, True),
        ({"admins": {1}}, 2, 2, False),
        ({"admins": {1}}, None, -500, False),
        ({"users": {2}}, 2, 2, True),
        ({"users": {2}}, 2, -500, True),
        ({"users": {2}}, 3, 3, False),
        ({"chats": {-500}}, 3, -500, True),
        ({"chats": {-500}}, 3, 3, False),
        ({"chats": {-500}}, 3, -600, False),
        ({"public": True}, 3, 3, True),
        ({"public": True}, None, -600, True),
    ],
)
def test_who_may_ask(settings: dict[str, Any], user_id: int | None, chat_id: int, allowed: bool) -> None:
    assert Settings(_env_file=None, **settings).may_ask(user_id, chat_id) is allowed  # type: ignore[call-arg]


def test_the_start_up_warning_names_who_is_answered_and_how_to_open_the_bot() -> None:
    opened = Settings(_env_file=None, admins={1}, chats={-5})  # type: ignore[call-arg]
    assert access_warning(opened) is None
    admins_only = access_warning(Settings(_env_file=None, admins={1}))  # type: ignore[call-arg]
    assert admins_only is not None and admins_only.startswith("The bot answers only its admins (QUOTEBOT_ADMINS): ")
    assert admins_only.endswith("or set QUOTEBOT_PUBLIC=true to let anyone ask.") and "\n" not in admins_only
    nobody = access_warning(Settings(_env_file=None))  # type: ignore[call-arg]
    assert nobody is not None and nobody.startswith("The bot answers nobody (QUOTEBOT_ADMINS is empty too): ")


def test_stranger_lines_give_the_ids_an_admin_would_list() -> None:
    assert stranger_text(7, 7, group=False, html=True) == (
        "This bot answers only its team's members; ask an admin to add your id <code>7</code>."
    )
    assert stranger_text(7, -42, group=True, html=False) == (
        "This bot answers only its team's members; ask an admin to add your id 7 or this chat's id -42."
    )


def test_buttons_belong_to_the_chat_and_in_groups_to_the_asker() -> None:
    in_private, in_group = answer("q", chat_id=7, user_id=7), answer("q", chat_id=-42, user_id=7)
    assert button_refusal(in_private, chat_id=7, group=False, user_id=7) is None
    assert button_refusal(in_private, chat_id=8, group=False, user_id=8) == OTHER_CHAT
    assert button_refusal(in_group, chat_id=-42, group=True, user_id=7) is None
    assert button_refusal(in_group, chat_id=-42, group=True, user_id=8) == NOT_YOURS
    assert button_refusal(in_group, chat_id=-43, group=True, user_id=7) == OTHER_CHAT


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


def answer(question: str, *, chat_id: int = 1, user_id: int | None = 1) -> StoredAnswer:
    return StoredAnswer(Answer(question=question, found=False, quotes=[]), depth=2, chat_id=chat_id, user_id=user_id)


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


def test_one_users_flood_evicts_only_their_own_oldest_buttons() -> None:
    store = AnswerStore(capacity=10, per_user=4)
    others = {user: store.put(answer(f"from {user}", chat_id=user, user_id=user)) for user in (1, 2, 3)}
    flood = [store.put(answer(f"flood {number}", chat_id=9, user_id=9)) for number in range(100)]
    assert all(store.get(key) is None for key in flood[:96])
    assert [entry.answer.question for key in flood[96:] if (entry := store.get(key))] == [
        f"flood {number}" for number in range(96, 100)
    ]
    assert all(store.get(key) is not None for key in others.values())
    assert (len(store), store.owned_by(9), store.owned_by(1)) == (7, 4, 1)


def test_answer_store_per_user_eviction_takes_that_users_least_recently_used() -> None:
    store = AnswerStore(capacity=100, per_user=3)
    keys = [store.put(answer(f"q{number}", chat_id=-42, user_id=5)) for number in range(3)]
    assert store.get(keys[0]) is not None
    store.put(answer("q3", chat_id=-42, user_id=5))
    assert store.get(keys[1]) is None and store.get(keys[0]) is not None and store.get(keys[2]) is not None
    # Without a user, the chat is the asker; it has a share of its own.
    store.put(answer("channel", chat_id=-42, user_id=None))
    assert (store.owned_by(5), store.owned_by(-42), len(store)) == (3, 1, 4)


def test_answer_store_total_stays_bounded_when_many_users_each_keep_a_few() -> None:
    store = AnswerStore(capacity=6, per_user=4)
    keys = [store.put(answer(f"u{user}", chat_id=user, user_id=user)) for user in range(10)]
    assert len(store) == 6
    assert [store.get(key) is not None for key in keys] == [False] * 4 + [True] * 6
    assert store.owned_by(0) == 0 and store.owned_by(9) == 1
    replaced = store.put(answer("again", chat_id=9, user_id=9), key=keys[9])
    assert replaced == keys[9] and (len(store), store.owned_by(9)) == (6, 1)


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
