"""End to end: the real python-telegram-bot Application and the real Library against the Bot API emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import socket
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from network_guard import loopback_only
from telegram_emulator import BOT_TOKEN, BOT_USERNAME, BotApiEmulator, Chat, SentMessage, User

from bot.config import Settings
from bot.telegram import APOLOGY, EXPIRED, build_application, webhook_options
from index.library import Library
from index.models import Answer

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
ADMIN = User(4242, "Ada", "ada_admin")
GROUP = Chat(-100500, "supergroup", "Readers")


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

    def ask(self, question: str, *, k: int = 3) -> Answer:
        if "explode" in question:
            raise RuntimeError(f"internal failure near {BOT_TOKEN}")
        return self._library.ask(question, k=k)

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
        async with running_bot(library) as api:
            started = time.monotonic()
            for round_number in range(questions_per_chat):
                for number, user in enumerate(users):
                    question = LOAD_QUESTIONS[(number + round_number) % len(LOAD_QUESTIONS)]
                    api.send_text(private(user), user, question)
            expected = len(users) * questions_per_chat
            await api.wait_until(lambda: len(api.state.sent) >= expected, timeout=150)
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
