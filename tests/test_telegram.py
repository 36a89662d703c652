"""End to end: the real python-telegram-bot Application and the real Library against the Bot API emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from network_guard import loopback_only
from telegram_emulator import BOT_TOKEN, BOT_USERNAME, BotApiEmulator, Chat, SentMessage, User

from bot.access import NOT_YOURS, OTHER_CHAT
from bot.config import Settings
from bot.limits import WINDOW
from bot.telegram import APOLOGY, EXPIRED, FETCH_THREADS, build_application, webhook_options
from index.library import Library
from index.models import Answer, Document

pytestmark = pytest.mark.slow

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SWEDEN_QUESTION = "Which country hasn't approved Sweden?"
SWEDEN_SENTENCE = (
    "Hungary is the only NATO country that has not yet approved Sweden’s application to join the security bloc."
)
MARKUP_SENTENCE = "Writing <b> & </i> in a caption made the old parser crash 🙂 at 3 < 4 & 5 > 2."
MARKUP_RECORD = {
    "title": "Tags <b>& </i> mayhem 🙂",
    "url": "https://example.org/markup?a=1&b=<2>",
    "text": (
        "Markup in captions is a recurring source of bugs.\n\n"
        f"{MARKUP_SENTENCE}\n\n"
        "The fix escaped every ampersand and angle bracket before sending."
    ),
}
FILLER_TOPICS = [
    "sourdough bread rises overnight in a cool kitchen",
    "the tram line along the river reopened in spring",
    "tomato seedlings need warmth and plenty of light",
    "the chess club meets on Thursday evenings at the library",
    "wool socks keep hikers' feet dry on long walks",
    "the village bakery sells rye loaves on Saturdays",
    "a heron nests every year near the old mill pond",
    "the choir practises folk songs in the school hall",
    "city cyclists asked for a new bridge lane",
    "the museum added a gallery of maritime maps",
    "beekeepers reported a good honey harvest this summer",
    "the ferry timetable changes when the lake freezes",
]
UPLOADED = (
    "# The Zorblax lighthouse\n\n"
    "The Zorblax lighthouse stands on a granite spit north of the harbour.\n\n"
    "Marta Kowalski painted the Zorblax lighthouse teal in 1987.\n\n"
    "Ships still use its light to find the channel at night.\n"
)

ALICE = User(1001, "Alice", "alice")
BOB = User(1002, "Bob")
CAROL = User(1003, "Carol")
ADMIN = User(4242, "Ada", "ada_admin")
GROUP = Chat(-100500, "supergroup", "Readers")
OTHER_GROUP = Chat(-100600, "supergroup", "Passers-by")


def private(user: User) -> Chat:
    return Chat(user.id, "private")


@pytest.fixture(scope="module", autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only(), pytest.MonkeyPatch.context() as patch:
        # PTB 22 warns when it builds RetryAfter from a 429 unless opted in to timedelta periods (its
        # future default); the bot reads no periods, and warnings are errors here.
        patch.setenv("PTB_TIMEDELTA", "1")
        yield


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """The real engine (model, FAISS, SQLite) on a small corpus: the seeds, a markup article and fillers."""
    corpus = tmp_path_factory.mktemp("corpus")
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, corpus / seed.name)
    (corpus / "markup.jsonl").write_text(json.dumps(MARKUP_RECORD) + "\n", encoding="utf-8")
    for number, topic in enumerate(FILLER_TOPICS, start=1):
        (corpus / f"note-{number:02d}.txt").write_text(f"Local note {number}.\n\nIn short, {topic}.\n", "utf-8")
    with loopback_only():
        opened = Library.open(tmp_path_factory.mktemp("telegram") / "library", seeds=corpus)
    yield opened
    opened.close()


def make_settings(api: BotApiEmulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_token": BOT_TOKEN,
        "telegram_base_url": api.base_url,
        "telegram_base_file_url": api.base_file_url,
        "admins": frozenset({ADMIN.id}),
        # Most tests play anyone at all; the tests of access close the bot again.
        "public": True,
        # Paid broadcasts allow 1,000 messages a second; the load test would otherwise measure the limiter.
        "telegram_max_rate": 1000.0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def running_bot(library: Any, **overrides: Any) -> AsyncIterator[BotApiEmulator]:
    """The emulator, and the bot long-polling it exactly as ``run_polling`` would (post_init included)."""
    async with BotApiEmulator() as api:
        application = build_application(make_settings(api, **overrides), library)
        async with application:
            assert application.post_init is not None
            await application.post_init(application)
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0, timeout=1)
            await application.start()
            try:
                yield api
            finally:
                await application.updater.stop()
                await application.stop()
        assert application.post_shutdown is not None
        await application.post_shutdown(application)


def run(scenario: Any, *, timeout: float = 60) -> None:
    asyncio.run(asyncio.wait_for(scenario, timeout))


async def settle(api: BotApiEmulator, seconds: float = 0.5) -> None:
    """Give the bot time to (not) react; used only to check that something was ignored."""
    await asyncio.sleep(seconds)


def assert_no_rejections(api: BotApiEmulator) -> None:
    rejected = [error for error in api.state.errors if not error[1].startswith("Too Many Requests")]
    assert rejected == []


def test_sweden_question_quotes_the_sentence_with_the_answer_in_bold(library: Library) -> None:
    expected = library.ask(SWEDEN_QUESTION, k=10)
    assert expected.found and expected.quotes[0].text == SWEDEN_SENTENCE

    async def scenario() -> None:
        async with running_bot(library) as api:
            chat = private(ALICE)
            api.send_text(chat, ALICE, SWEDEN_QUESTION)
            [reply] = await api.wait_for_messages(chat.id, 1)
            assert SWEDEN_SENTENCE in reply.text
            assert reply.entity_texts("blockquote") == [SWEDEN_SENTENCE]
            short = expected.quotes[0].answer
            assert reply.entity_texts("bold") == ([short.text] if short else [])
            assert (chat.id, "typing") in api.state.chat_actions
            assert reply.reply_to == 1
            assert {command["command"] for command in api.state.commands} >= {"ask", "sources", "help", "add"}
            buttons = reply.buttons()
            assert set(buttons) == {"Context", "More quotes"}
            assert all(len(data.encode()) <= 64 for data in buttons.values())

            api.press_button(chat, ALICE, reply, buttons["Context"])
            context_message = (await api.wait_for_messages(chat.id, 2))[1]
            paragraph = library.context(expected.quotes[0])
            assert paragraph.text in context_message.text
            assert context_message.entity_texts("underline") == [SWEDEN_SENTENCE]

            api.press_button(chat, ALICE, reply, buttons["More quotes"])
            more = (await api.wait_for_messages(chat.id, 3))[2]
            following = expected.quotes[1:4]
            assert more.entity_texts("blockquote") == [quote.text for quote in following]
            assert more.entity_texts("bold") == [quote.answer.text for quote in following if quote.answer]
            assert set(more.buttons()) >= {"Context 1", "Context 2", "Context 3"}
            assert len(api.state.callback_answers) == 2
            assert_no_rejections(api)

    run(scenario())


def test_stale_and_unknown_buttons_get_a_polite_answer(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library) as api:
            chat = private(BOB)
            api.send_text(chat, BOB, SWEDEN_QUESTION)
            [reply] = await api.wait_for_messages(chat.id, 1)
            stale = api.press_button(chat, BOB, reply, "m:NoSuchKy:1")
            garbage = api.press_button(chat, BOB, reply, "something else entirely")
            await api.wait_until(lambda: {stale, garbage} <= set(api.state.callback_answers))
            assert api.state.callback_answers[stale]["text"] == EXPIRED
            assert api.state.callback_answers[garbage]["text"] == EXPIRED
            await settle(api)
            assert len(api.messages_in(chat.id)) == 1
            assert_no_rejections(api)

    run(scenario())


def test_group_answers_ask_mentions_and_replies_and_ignores_chatter(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library) as api:
            api.send_text(GROUP, ALICE, "Nice weather today, isn't it?")
            asked = [api.send_text(GROUP, ALICE, f"/ask {SWEDEN_QUESTION}")]
            [first] = await api.wait_for_messages(GROUP.id, 1)
            assert SWEDEN_SENTENCE in first.text
            assert first.reply_to == asked[0]["message_id"]
            asked.append(api.send_text(GROUP, BOB, f"@{BOT_USERNAME} {SWEDEN_QUESTION}"))
            asked.append(api.send_text(GROUP, BOB, f"/ask@{BOT_USERNAME} {SWEDEN_QUESTION}"))
            asked.append(api.send_text(GROUP, ALICE, "and which one has?", reply_to=first))
            replies = await api.wait_for_messages(GROUP.id, 4)
            sweden = {message["message_id"] for message in asked[:3]}
            assert all(SWEDEN_SENTENCE in reply.text for reply in replies if reply.reply_to in sweden)
            assert sorted(reply.reply_to or 0 for reply in replies) == [message["message_id"] for message in asked]
            api.send_text(GROUP, ALICE, "/ask")
            api.send_text(GROUP, ALICE, "/ask@some_other_bot what now?")
            usage = (await api.wait_for_messages(GROUP.id, 5))[4]
            assert "Ask like this" in usage.text
            await settle(api)
            assert len(api.messages_in(GROUP.id)) == 5
            assert_no_rejections(api)

    run(scenario())


def test_admin_upload_is_answered_and_others_are_refused(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library) as api:
            stranger = private(BOB)
            api.send_text(stranger, BOB, "/add https://example.org/article")
            api.send_document(stranger, BOB, "lighthouse.md", UPLOADED.encode())
            api.send_text(stranger, BOB, "/remove abc")
            refusals = await api.wait_for_messages(stranger.id, 3)
            assert all("Only the bot's admins" in message.text for message in refusals)

            admin = private(ADMIN)
            api.send_document(admin, ADMIN, "lighthouse.md", UPLOADED.encode())
            [report] = await api.wait_for_messages(admin.id, 1, timeout=30)
            assert report.text.startswith("Added: 1")
            api.send_text(admin, ADMIN, "Who painted the Zorblax lighthouse?")
            answer = (await api.wait_for_messages(admin.id, 2))[1]
            assert answer.entity_texts("blockquote") == ["Marta Kowalski painted the Zorblax lighthouse teal in 1987."]
            assert "The Zorblax lighthouse" in answer.text

            api.send_document(admin, ADMIN, "photo.png", b"\x89PNG\r\n\x1a\n\x00\x00")
            api.send_text(admin, ADMIN, "/remove no-such-article")
            api.send_text(admin, ADMIN, "/add http://127.0.0.1:9/nothing-listens-here")
            messages = await api.wait_for_messages(admin.id, 5, timeout=30)
            texts = sorted(message.text for message in messages[2:])
            assert len(texts) == 3 and all("\n" not in text and "Traceback" not in text for text in texts)
            assert any("photo.png" in text for text in texts)
            assert_no_rejections(api)

    run(scenario())


def test_markup_in_questions_and_articles_gives_valid_replies(library: Library) -> None:
    question = "Did writing <b> & </i> in a caption 🙂 crash the old parser?"

    async def scenario() -> None:
        async with running_bot(library) as api:
            chat = private(ALICE)
            api.send_text(chat, ALICE, question)
            [reply] = await api.wait_for_messages(chat.id, 1)
            assert reply.entity_texts("blockquote") == [MARKUP_SENTENCE]
            assert "Tags <b>& </i> mayhem 🙂" in reply.text
            assert [entity["url"] for entity in reply.entities if entity["type"] == "text_link"] == [
                MARKUP_RECORD["url"]
            ]
            api.press_button(chat, ALICE, reply, reply.buttons()["Context"])
            context_message = (await api.wait_for_messages(chat.id, 2))[1]
            assert MARKUP_SENTENCE in context_message.text
            api.send_text(chat, ALICE, "/sources")
            listing = (await api.wait_for_messages(chat.id, 3))[2]
            assert listing.text.startswith(f"{len(library.articles())} articles (page 1 of 2)")
            api.press_button(chat, ALICE, listing, listing.buttons()["Next »"])
            await api.wait_until(lambda: listing.edits == 1)
            assert "page 2 of 2" in listing.text and "« Previous" in listing.buttons()
            assert_no_rejections(api)

    run(scenario())


def test_odd_messages_get_sensible_replies_or_are_ignored(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library) as api:
            chat = private(ALICE)
            api.send_text(chat, ALICE, "What? " * 300)
            api.send_sticker(chat, ALICE)
            api.send_photo(chat, ALICE)
            api.send_text(chat, ALICE, "/frobnicate")
            api.send_text(chat, ALICE, "Which country?", edited=True)
            api.send_text(chat, ALICE, "/start")
            api.send_text(chat, ALICE, "   ")
            api.send_text(chat, ALICE, "Where do herons nest in Antarctica's volcano observatories?")
            messages = await api.wait_for_messages(chat.id, 7)
            await settle(api)
            assert len(api.messages_in(chat.id)) == 7
            by_question = {message.reply_to: message.text for message in messages}
            assert "1,799 characters long" in by_question[1]
            assert "text questions" in by_question[2] and "text questions" in by_question[3]
            assert "don't know that command" in by_question[4]
            assert 5 not in by_question
            help_text = next(message.text for message in messages if "I answer questions about" in message.text)
            assert f"{len(library.articles())} articles" in help_text
            assert "Ask me a question" in by_question[7]
            assert_no_rejections(api)

    run(scenario())


class ExplodingLibrary:
    """The real library, except that one question makes `ask` fail the way a bug would."""

    def __init__(self, library: Library) -> None:
        self._library = library

    def ask(self, question: str, *, k: int = 3, **options: Any) -> Answer:
        if "explode" in question:
            raise RuntimeError(f"internal failure near {BOT_TOKEN}")
        return self._library.ask(question, k=k, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._library, name)


def test_errors_are_logged_and_the_user_gets_a_short_apology(
    library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with running_bot(ExplodingLibrary(library)) as api:
            chat = private(ALICE)
            api.send_text(chat, ALICE, "please explode")
            [apology] = await api.wait_for_messages(chat.id, 1)
            assert apology.text == APOLOGY
            api.send_text(chat, ALICE, SWEDEN_QUESTION)
            answer = (await api.wait_for_messages(chat.id, 2))[1]
            assert SWEDEN_SENTENCE in answer.text

    with caplog.at_level(logging.ERROR, logger="bot.telegram"):
        run(scenario())
    assert any(record.exc_info and "internal failure" in str(record.exc_info[1]) for record in caplog.records)


def test_flood_control_delays_answers_without_losing_them(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library) as api:
            api.fail_next(3, methods={"sendMessage"})
            chats = [private(ALICE), private(BOB)]
            for chat, user in zip(chats, (ALICE, BOB), strict=True):
                api.send_text(chat, user, SWEDEN_QUESTION)
            for chat in chats:
                [reply] = await api.wait_for_messages(chat.id, 1, timeout=30)
                assert SWEDEN_SENTENCE in reply.text
            assert [error[1] for error in api.state.errors].count("Too Many Requests: retry after 1") == 3
            assert_no_rejections(api)

    run(scenario())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_webhook_mode_answers_and_refuses_updates_without_the_secret(library: Library) -> None:
    async def scenario() -> None:
        async with BotApiEmulator() as api:
            port = free_port()
            url = f"http://127.0.0.1:{port}/quotebot/hook"
            settings = make_settings(api)
            application = build_application(settings, library)
            options = webhook_options(settings, url, listen="127.0.0.1", port=port)
            async with application:
                assert application.updater is not None
                await application.updater.start_webhook(**options)
                await application.start()
                try:
                    assert api.state.webhook_url == url and api.state.webhook_secret == options["secret_token"]
                    chat = private(ALICE)
                    api.send_text(chat, ALICE, SWEDEN_QUESTION)
                    [reply] = await api.wait_for_messages(chat.id, 1)
                    assert SWEDEN_SENTENCE in reply.text
                    api.state.webhook_secret = "forged"
                    api.send_text(chat, ALICE, SWEDEN_QUESTION)
                    await api.wait_until(lambda: len(api.state.deliveries) == 2)
                    assert api.state.deliveries == [200, 403]
                    await settle(api)
                    assert len(api.messages_in(chat.id)) == 1
                finally:
                    await application.updater.stop()
                    await application.stop()

    run(scenario())


LOAD_QUESTIONS = [
    SWEDEN_QUESTION,
    "What did China offer Hungary?",
    "Where will BYD build its first European factory?",
    "When does the chess club meet?",
    "What do tomato seedlings need?",
    "Who met Viktor Orban?",
    "What does the village bakery sell?",
    "Is there a dragon in the lake?",
]


def test_fifty_chats_asking_twenty_questions_each_get_exactly_one_answer_each(
    library: Library, capsys: pytest.CaptureFixture[str]
) -> None:
    users = [User(20_000 + number, f"Reader {number}") for number in range(50)]
    questions_per_chat = 20
    figures: dict[str, Any] = {}

    async def scenario() -> None:
        # Every question is let in: this measures the engine and the bot, not the per-user limits.
        limits = {"questions_in_flight": questions_per_chat, "questions_per_minute": questions_per_chat}
        async with running_bot(library, **limits) as api:
            started = time.monotonic()
            for round_number in range(questions_per_chat):
                for number, user in enumerate(users):
                    question = LOAD_QUESTIONS[(number + round_number) % len(LOAD_QUESTIONS)]
                    api.send_text(private(user), user, question)
            expected = len(users) * questions_per_chat
            await api.wait_until(lambda: len(api.state.sent) >= expected, timeout=400)
            elapsed = time.monotonic() - started
            await settle(api)
            replies: list[SentMessage] = list(api.state.sent)
            per_question = Counter((message.chat_id, message.reply_to) for message in replies)
            latencies = sorted(latency for message in replies if (latency := api.latency(message)) is not None)
            figures.update(
                answers=len(replies),
                expected=expected,
                duplicates=sum(count - 1 for count in per_question.values() if count > 1),
                errors=len(api.state.errors),
                seconds=elapsed,
                p50=statistics.median(latencies),
                p95=latencies[int(0.95 * (len(latencies) - 1))],
            )
            assert len(per_question) == expected and set(per_question.values()) == {1}
            assert all(reply_to is not None for _, reply_to in per_question)
            assert api.state.errors == []

    run(scenario(), timeout=170)
    with capsys.disabled():
        print(
            f"\n50 chats x 20 questions: {figures['answers']}/{figures['expected']} answers in "
            f"{figures['seconds']:.1f} s ({figures['answers'] / figures['seconds']:.0f}/s), "
            f"latency p50 {figures['p50'] * 1000:.0f} ms, p95 {figures['p95'] * 1000:.0f} ms, "
            f"duplicates {figures['duplicates']}, errors {figures['errors']}"
        )


# -- who may ask ---------------------------------------------------------------------------------------------------


def stranger_line(user: User, chat: Chat | None = None) -> str:
    chat_part = f" or this chat's id {chat.id}" if chat is not None else ""
    return f"This bot answers only its team's members; ask an admin to add your id {user.id}{chat_part}."


def test_strangers_get_one_polite_line_and_listed_users_and_chats_are_answered(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library, public=False, users=frozenset({ALICE.id}), chats=frozenset({GROUP.id})) as api:
            stranger = private(BOB)
            sent = [
                api.send_text(stranger, BOB, text)
                for text in (SWEDEN_QUESTION, "/start", "/sources", f"/ask {SWEDEN_QUESTION}", "/frobnicate")
            ]
            sent.append(api.send_sticker(stranger, BOB))
            refusals = await api.wait_for_messages(stranger.id, 6)
            assert [message.text for message in refusals] == [stranger_line(BOB)] * 6
            assert sorted(message.reply_to or 0 for message in refusals) == [message["message_id"] for message in sent]
            assert all(message.entity_texts("blockquote") == [] for message in refusals)
            assert [message.entity_texts("code") for message in refusals[:1]] == [[str(BOB.id)]]
            pressed = api.press_button(stranger, BOB, refusals[0], "s:0")
            await api.wait_until(lambda: pressed in api.state.callback_answers)
            assert api.state.callback_answers[pressed]["text"] == stranger_line(BOB)

            for user in (ALICE, ADMIN):
                api.send_text(private(user), user, SWEDEN_QUESTION)
                [answer] = await api.wait_for_messages(user.id, 1)
                assert answer.entity_texts("blockquote") == [SWEDEN_SENTENCE]
            # Anyone in a listed chat may ask there, and only there.
            api.send_text(GROUP, BOB, f"/ask {SWEDEN_QUESTION}")
            [group_answer] = await api.wait_for_messages(GROUP.id, 1)
            assert group_answer.entity_texts("blockquote") == [SWEDEN_SENTENCE]
            api.send_text(OTHER_GROUP, CAROL, "Chatter that does not address the bot.")
            mention = api.send_text(OTHER_GROUP, CAROL, f"@{BOT_USERNAME} {SWEDEN_QUESTION}")
            [refusal] = await api.wait_for_messages(OTHER_GROUP.id, 1)
            assert refusal.text == stranger_line(CAROL, OTHER_GROUP) and refusal.reply_to == mention["message_id"]
            await settle(api)
            assert len(api.messages_in(stranger.id)) == 6 and len(api.messages_in(OTHER_GROUP.id)) == 1
            assert len(api.messages_in(GROUP.id)) == 1
            assert_no_rejections(api)

    run(scenario())


def test_without_users_chats_or_public_only_admins_are_answered_and_a_warning_says_so(
    library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with running_bot(library, public=False) as api:
            api.send_text(private(ALICE), ALICE, SWEDEN_QUESTION)
            [refusal] = await api.wait_for_messages(ALICE.id, 1)
            assert refusal.text == stranger_line(ALICE)
            api.send_text(private(ADMIN), ADMIN, SWEDEN_QUESTION)
            [answer] = await api.wait_for_messages(ADMIN.id, 1)
            assert answer.entity_texts("blockquote") == [SWEDEN_SENTENCE]

    with caplog.at_level(logging.WARNING, logger="bot.telegram"):
        run(scenario())
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        "The bot answers only its admins (QUOTEBOT_ADMINS): QUOTEBOT_USERS and QUOTEBOT_CHATS are empty and "
        "QUOTEBOT_PUBLIC is false; list user ids in QUOTEBOT_USERS or chat ids in QUOTEBOT_CHATS, or set "
        "QUOTEBOT_PUBLIC=true to let anyone ask."
    ]


def test_buttons_work_only_in_their_chat_and_in_groups_only_for_the_asker(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library) as api:
            api.send_text(private(ADMIN), ADMIN, SWEDEN_QUESTION)
            [admin_answer] = await api.wait_for_messages(ADMIN.id, 1)
            api.send_text(private(BOB), BOB, SWEDEN_QUESTION)
            [bob_answer] = await api.wait_for_messages(BOB.id, 1)
            # Bob's client sends the admin's button data from his own chat.
            borrowed = [
                api.press_button(private(BOB), BOB, bob_answer, data) for data in admin_answer.buttons().values()
            ]
            api.send_text(GROUP, ALICE, f"/ask {SWEDEN_QUESTION}")
            [group_answer] = await api.wait_for_messages(GROUP.id, 1)
            not_hers = api.press_button(GROUP, BOB, group_answer, group_answer.buttons()["More quotes"])
            await api.wait_until(lambda: {*borrowed, not_hers} <= set(api.state.callback_answers))
            assert [api.state.callback_answers[query]["text"] for query in borrowed] == [OTHER_CHAT, OTHER_CHAT]
            assert api.state.callback_answers[not_hers]["text"] == NOT_YOURS
            await settle(api)
            assert len(api.messages_in(BOB.id)) == 1 and len(api.messages_in(GROUP.id)) == 1

            api.press_button(GROUP, ALICE, group_answer, group_answer.buttons()["More quotes"])
            more = (await api.wait_for_messages(GROUP.id, 2))[1]
            assert more.entity_texts("blockquote") == [
                quote.text for quote in library.ask(SWEDEN_QUESTION, k=10).quotes[1:4]
            ]
            api.press_button(GROUP, BOB, more, more.buttons()["Context 1"])
            api.press_button(private(ADMIN), ADMIN, admin_answer, admin_answer.buttons()["Context"])
            context_message = (await api.wait_for_messages(ADMIN.id, 2))[1]
            assert context_message.entity_texts("underline") == [SWEDEN_SENTENCE]
            await settle(api)
            assert len(api.messages_in(GROUP.id)) == 2
            assert_no_rejections(api)

    run(scenario())


# -- adding from Telegram ------------------------------------------------------------------------------------------


def test_add_takes_only_http_urls_never_a_path_on_the_server(hashing_library: Library, tmp_path: Path) -> None:
    secret = tmp_path / ".env"
    secret.write_text(f"QUOTEBOT_TELEGRAM_TOKEN={BOT_TOKEN}\n", encoding="utf-8")

    async def scenario() -> None:
        async with running_bot(hashing_library) as api:
            chat = private(ADMIN)
            for source in (str(secret), ".env", "/etc/hostname", f"file://{secret}", "~/notes.txt"):
                api.send_text(chat, ADMIN, f"/add {source}")
            api.send_text(chat, ADMIN, f"/add https://example.org/story.html {secret}")
            refusals = await api.wait_for_messages(chat.id, 6)
            expected = [str(secret), ".env", "/etc/hostname", f"file://{secret}", "~/notes.txt", str(secret)]
            assert [message.text for message in refusals] == [
                f"I add only http(s) URLs, never a path on the server; {source!r} is not one. Send a file to add it."
                for source in expected
            ]
            assert_no_rejections(api)

    run(scenario())
    assert hashing_library.articles() == []


def test_add_refuses_internal_addresses_and_redirects_to_them_unless_allowed_by_name(
    hashing_library: Library, web_server: str
) -> None:
    port = web_server.rsplit(":", 1)[1]
    internal = f"{web_server}/internal.txt"
    redirected = f"{web_server}/redirect?to=http://localhost:{port}/internal.txt"

    async def scenario() -> None:
        chat = private(ADMIN)
        async with running_bot(hashing_library) as api:
            api.send_text(chat, ADMIN, f"/add {internal}")
            [refusal] = await api.wait_for_messages(chat.id, 1, timeout=30)
            assert refusal.text == (
                f"{internal!r} points to a loopback address (127.0.0.1); only public addresses are fetched from here"
            )
        async with running_bot(hashing_library, allowed_hosts=frozenset({"127.0.0.1"})) as api:
            api.send_text(chat, ADMIN, f"/add {internal}")
            [report] = await api.wait_for_messages(chat.id, 1, timeout=30)
            assert report.text.startswith("Added: 1 (")
            api.send_text(chat, ADMIN, f"/add {redirected}")
            refusal = (await api.wait_for_messages(chat.id, 2, timeout=30))[1]
            assert refusal.text.startswith(f"{redirected!r} redirects to 'http://localhost:{port}/internal.txt', ")
            assert "which points to a loopback address" in refusal.text
            assert_no_rejections(api)

    run(scenario())
    assert [article.source for article in hashing_library.articles()] == [internal]


def test_add_stops_at_the_byte_cap_and_the_deadline(hashing_library: Library, web_server: str) -> None:
    big, drip = f"{web_server}/big?bytes=5000000", f"{web_server}/drip"

    async def scenario() -> None:
        chat = private(ADMIN)
        async with running_bot(
            hashing_library, allowed_hosts=frozenset({"127.0.0.1"}), max_download_bytes=100_000, fetch_deadline=1.0
        ) as api:
            api.send_text(chat, ADMIN, f"/add {big}")
            [capped] = await api.wait_for_messages(chat.id, 1, timeout=30)
            assert capped.text == f"{big!r} is over the download limit of 100,000 bytes; save a part of it as a file"
            started = time.monotonic()
            api.send_text(chat, ADMIN, f"/add {drip}")
            late = (await api.wait_for_messages(chat.id, 2, timeout=30))[1]
            assert late.text == f"{drip!r} did not finish downloading within 1 s; try again later or save it as a file"
            assert time.monotonic() - started < 5

    run(scenario())
    assert hashing_library.articles() == []


def test_add_reports_each_url_that_failed_on_its_own_line_and_adds_the_rest(
    hashing_library: Library, web_server: str
) -> None:
    good, missing, big = f"{web_server}/internal.txt", f"{web_server}/missing.html", f"{web_server}/big?bytes=500000"

    async def scenario() -> None:
        chat = private(ADMIN)
        async with running_bot(
            hashing_library, allowed_hosts=frozenset({"127.0.0.1"}), max_download_bytes=100_000
        ) as api:
            api.send_text(chat, ADMIN, f"/add {missing} {good} {big}")
            [report] = await api.wait_for_messages(chat.id, 1, timeout=30)
            [added] = hashing_library.articles()
            assert report.text.splitlines() == [
                f"Added: 1 ({added.id})",
                "Replaced: 0",
                "Unchanged: 0",
                "Not added: 2",
                f"• {missing!r} answered HTTP 404; check the address or save the page as a file",
                f"• {big!r} is over the download limit of 100,000 bytes; save a part of it as a file",
            ]
            assert_no_rejections(api)

    run(scenario())
    assert [article.source for article in hashing_library.articles()] == [good]


def test_an_uploaded_json_lines_file_reports_its_bad_lines_and_adds_the_others(hashing_library: Library) -> None:
    lines = b'{"text": "The lantern festival opened in May."}\n{"text": 5}\n{oops\n{"text": "Kites flew in June."}\n'

    async def scenario() -> None:
        async with running_bot(hashing_library) as api:
            api.send_document(private(ADMIN), ADMIN, "records.jsonl", lines)
            [report] = await api.wait_for_messages(ADMIN.id, 1, timeout=30)
            text = report.text.splitlines()
            assert text[0].startswith("Added: 2 (") and text[1:4] == ["Replaced: 0", "Unchanged: 0", "Not added: 2"]
            failed = sorted(text[4:])
            assert len(failed) == 2
            assert failed[0] == "• line 2 of 'records.jsonl' has no \"text\" string; each record needs one"
            assert failed[1].startswith("• line 3 of 'records.jsonl' is not valid JSON (")

    run(scenario())
    assert len(hashing_library.articles()) == 2


def test_a_200_kb_sentence_as_the_best_quote_is_one_message(tmp_path: Path) -> None:
    # One sentence of 200 KB (no full stop until its end) that holds the answer near its middle.
    filler = "and the old stone harbour wall ran on along the shore past the fishing sheds "
    sentence = filler * 1300 + "where the Zorblax beacon was lit by Marta Kowalski " + filler * 1300 + "at last."
    assert len(sentence) > 200_000
    text = "The harbour of Vessby is old.\n\n" + sentence + "\n\nThe harbour closed in winter.\n"
    with loopback_only(), Library.open(tmp_path / "library") as library:
        library.add([Document(text=text, source="run-on.txt", title="Vessby harbour")])

        async def scenario() -> None:
            async with running_bot(library) as api:
                api.send_text(private(ALICE), ALICE, "Who lit the Zorblax beacon?")
                await api.wait_for_messages(ALICE.id, 1, timeout=60)
                await settle(api, 2.0)
                replies = api.messages_in(ALICE.id)
                assert len(replies) == 1, [len(reply.text) for reply in replies]
                [quote] = replies[0].entity_texts("blockquote")
                assert "Marta Kowalski" in quote and quote in sentence and len(quote) <= 600
                assert_no_rejections(api)

        run(scenario(), timeout=120)


def fetch_threads() -> int:
    return sum(thread.name.startswith("quotebot-fetch") for thread in threading.enumerate())


def test_hung_url_fetches_use_their_own_few_threads_and_delay_no_answer(library: Library, web_server: str) -> None:
    drip = f"{web_server}/drip"
    library.ask(SWEDEN_QUESTION, k=2)  # the model is warm: the answer's delay can only be waiting for a thread

    async def scenario() -> None:
        while fetch_threads():  # the pools of earlier bots are winding down
            await asyncio.sleep(0.05)
        async with running_bot(library, allowed_hosts=frozenset({"127.0.0.1"}), fetch_deadline=4.0) as api:
            for _ in range(6):
                api.send_text(private(ADMIN), ADMIN, f"/add {drip}")
            await api.wait_until(lambda: fetch_threads() == FETCH_THREADS)
            api.send_text(private(ALICE), ALICE, SWEDEN_QUESTION)
            [answer] = await api.wait_for_messages(ALICE.id, 1, timeout=3.0)
            assert answer.entity_texts("blockquote") == [SWEDEN_SENTENCE]
            assert api.messages_in(ADMIN.id) == [] and fetch_threads() == FETCH_THREADS
            refusals = await api.wait_for_messages(ADMIN.id, 6, timeout=30)
            assert [message.text for message in refusals] == [
                f"{drip!r} did not finish downloading within 4 s; try again later or save it as a file"
            ] * 6

    run(scenario())


def test_uploads_need_a_private_chat_or_the_add_caption_and_each_is_its_own_source(
    hashing_library: Library,
) -> None:
    first = b"Quarterly report one.\n\nSales of lanterns rose by a tenth in the spring.\n"
    second = b"Quarterly report two.\n\nSales of kites fell by a third in the autumn.\n"

    async def scenario() -> None:
        async with running_bot(hashing_library) as api:
            api.send_document(GROUP, ADMIN, "report.txt", first)
            by_bob = api.send_document(GROUP, BOB, "report.txt", first, caption="/add")
            await settle(api)
            [refusal] = api.messages_in(GROUP.id)
            assert refusal.text == "Only the bot's admins can add or remove articles."
            assert refusal.reply_to == by_bob["message_id"]
            assert hashing_library.articles() == []
            asked = api.send_document(GROUP, ADMIN, "report.txt", first, caption=f"/add@{BOT_USERNAME} for the team")
            added = (await api.wait_for_messages(GROUP.id, 2, timeout=30))[1]
            assert added.text.startswith("Added: 1 (") and added.reply_to == asked["message_id"]
            api.send_document(private(ADMIN), ADMIN, "report.txt", second)
            [again] = await api.wait_for_messages(ADMIN.id, 1, timeout=30)
            assert again.text.startswith("Added: 1 (") and "Replaced: 0" in again.text
            assert_no_rejections(api)

    run(scenario())
    articles = hashing_library.articles()
    assert sorted(article.source for article in articles) == [
        "telegram:unique-3/report.txt",
        "telegram:unique-4/report.txt",
    ]


# -- fair share ----------------------------------------------------------------------------------------------------


class GatedLibrary:
    """The real library, except that `ask` waits until the test opens the gate, so the queue fills first."""

    def __init__(self, library: Library) -> None:
        self._library = library
        self.gate = threading.Event()

    def ask(self, question: str, *, k: int = 3, **options: Any) -> Answer:
        if not self.gate.wait(timeout=60):
            raise RuntimeError("the test never opened the gate")
        return self._library.ask(question, k=k, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._library, name)


def in_flight_line(limit: int) -> str:
    return (
        f"You already have {limit} questions waiting for an answer; please wait for those answers before asking more."
    )


def test_a_flood_of_questions_delays_only_its_sender(library: Library) -> None:
    gated = GatedLibrary(library)
    flood, admitted = 200, 30

    async def scenario() -> None:
        async with running_bot(gated, questions_in_flight=admitted, questions_per_minute=1000) as api:
            asked = [api.send_text(private(ALICE), ALICE, LOAD_QUESTIONS[number % 8]) for number in range(flood)]
            [notice] = await api.wait_for_messages(ALICE.id, 1, timeout=30)
            assert notice.text == in_flight_line(admitted) and notice.reply_to == asked[admitted]["message_id"]
            bob = api.send_text(private(BOB), BOB, SWEDEN_QUESTION)
            # "typing…" is shown once Bob's question is in the queue, behind the flooder's 30.
            await api.wait_until(lambda: (BOB.id, "typing") in api.state.chat_actions)
            gated.gate.set()
            await api.wait_for_messages(ALICE.id, admitted + 1, timeout=90)
            [answer] = await api.wait_for_messages(BOB.id, 1)
            await settle(api)
            assert answer.reply_to == bob["message_id"] and answer.entity_texts("blockquote") == [SWEDEN_SENTENCE]
            alice_answers = [message for message in api.messages_in(ALICE.id) if message is not notice]
            assert sorted(message.reply_to or 0 for message in alice_answers) == [
                message["message_id"] for message in asked[:admitted]
            ]
            # Bob waits for the asks already running and about one turn of Alice's, not for all 30 (FIFO).
            sent = list(api.state.sent)
            before_bob = [message for message in sent[: sent.index(answer)] if message.chat_id == ALICE.id]
            assert len([message for message in before_bob if message is not notice]) < 10
            assert len(api.messages_in(ALICE.id)) == admitted + 1
            assert_no_rejections(api)

    run(scenario(), timeout=120)


def test_past_a_users_limits_one_polite_line_says_how_long_to_wait_and_nothing_more_is_queued(
    library: Library,
) -> None:
    gated = GatedLibrary(library)

    async def scenario() -> None:
        # The defaults: two questions in flight per user.
        async with running_bot(gated) as api:
            asked = [api.send_text(private(ALICE), ALICE, SWEDEN_QUESTION) for _ in range(6)]
            [notice] = await api.wait_for_messages(ALICE.id, 1, timeout=30)
            assert notice.text == in_flight_line(2) and notice.reply_to == asked[2]["message_id"]
            gated.gate.set()
            answers = (await api.wait_for_messages(ALICE.id, 3, timeout=30))[1:]
            assert sorted(message.reply_to or 0 for message in answers) == [
                asked[0]["message_id"],
                asked[1]["message_id"],
            ]
            again = api.send_text(private(ALICE), ALICE, SWEDEN_QUESTION)
            answered = (await api.wait_for_messages(ALICE.id, 4))[3]
            assert answered.reply_to == again["message_id"]
            assert answered.entity_texts("blockquote") == [SWEDEN_SENTENCE]
            await settle(api)
            assert len(api.messages_in(ALICE.id)) == 4

        async with running_bot(library, questions_in_flight=10, questions_per_minute=3) as api:
            asked = [api.send_text(private(BOB), BOB, SWEDEN_QUESTION) for _ in range(5)]
            messages = await api.wait_for_messages(BOB.id, 4, timeout=30)
            await settle(api)
            [notice] = [message for message in messages if message.reply_to == asked[3]["message_id"]]
            prefix = "You have asked 3 questions in the last minute; please wait "
            assert notice.text.startswith(prefix) and notice.text.endswith(" s before asking again.")
            assert 0 < int(notice.text.removeprefix(prefix).split()[0]) <= WINDOW
            assert sorted(message.reply_to or 0 for message in messages if message is not notice) == [
                message["message_id"] for message in asked[:3]
            ]
            assert len(api.messages_in(BOB.id)) == 4
            assert_no_rejections(api)

    run(scenario())


def test_an_uploaded_pdf_is_read_and_its_quote_cites_date_and_author(library: Library, tmp_path: Path) -> None:
    from made_files import two_column_pdf

    data = two_column_pdf(tmp_path / "report.pdf").path.read_bytes()

    async def scenario() -> None:
        async with running_bot(library) as api:
            admin = private(ADMIN)
            api.send_document(admin, ADMIN, "report.pdf", data)
            [report] = await api.wait_for_messages(admin.id, 1, timeout=60)
            assert report.text.startswith("Added: 1")
            api.send_text(admin, ADMIN, "How low did the Rhine fall at Kaub?")
            answer = (await api.wait_for_messages(admin.id, 2, timeout=60))[1]
            assert answer.entity_texts("blockquote") == [
                "In the summer of 2024 the level of the Rhine at Kaub fell to 38 centimetres, the lowest mark in "
                "twenty years."
            ]
            assert "— Low Water on the Rhine, 5 Nov 2024, Marta Keller" in answer.text
            assert_no_rejections(api)

    try:
        run(scenario())
    finally:
        library.remove([article.id for article in library.articles() if article.title == "Low Water on the Rhine"])
