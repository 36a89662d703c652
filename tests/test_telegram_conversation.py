"""Conversations, filters and /why in Telegram: the real Application and Library against the Bot API emulator."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conversation_set import ARTICLES
from network_guard import loopback_only
from telegram_emulator import BotApiEmulator, Chat, User
from test_telegram import _loopback_only, private, run, running_bot  # noqa: F401 (the module's network guard)

from bot.conversations import SILENCE_SECONDS, Asked, ConversationStore
from bot.formatting import NOT_FOUND_HTML
from index import Answer, Conversation, Library

pytestmark = pytest.mark.slow

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
ALICE = User(2001, "Alice", "alice")
BOB = User(2002, "Bob")
CAROL = User(2003, "Carol")
GROUP = Chat(-200500, "supergroup", "Readers")
OSEI_WON = "Karl Osei won the Halden marathon"
OSEI_BORN = "Osei was born in 1992 in Accra"
WEBB_FOUNDED = "The Orland Jazz Festival was founded by the trumpeter Marcus Webb"
WEBB_BORN = "Webb was born in 1949 in Chicago"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    corpus = tmp_path_factory.mktemp("conversation-corpus")
    shutil.copy(ARTICLES, corpus / ARTICLES.name)
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, corpus / seed.name)
    with loopback_only():
        opened = Library.open(tmp_path_factory.mktemp("telegram-conversation") / "library", seeds=corpus)
    yield opened
    opened.close()


async def _ask(api: BotApiEmulator, chat: Chat, user: User, text: str, **options: object) -> str:
    """Send `text` and return the text of the bot's next message in that chat."""
    before = len(api.messages_in(chat.id))
    api.send_text(chat, user, text, **options)  # type: ignore[arg-type]
    return (await api.wait_for_messages(chat.id, before + 1, timeout=30))[before].text


def test_two_private_chats_each_keep_their_own_conversation(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library) as api:
            alice, bob = private(ALICE), private(BOB)
            assert OSEI_WON in await _ask(api, alice, ALICE, "Who won the Halden marathon?")
            assert WEBB_FOUNDED in await _ask(api, bob, BOB, "Who founded the Orland Jazz Festival?")
            assert OSEI_BORN in await _ask(api, alice, ALICE, "Where was he born?")
            assert WEBB_BORN in await _ask(api, bob, BOB, "Where was he born?")

    run(scenario(), timeout=120)


def test_in_a_group_each_member_has_a_conversation_and_a_reply_continues_its_answer(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library) as api:
            assert OSEI_WON in await _ask(api, GROUP, ALICE, "/ask Who won the Halden marathon?")
            osei_answer = api.messages_in(GROUP.id)[-1]
            assert WEBB_FOUNDED in await _ask(api, GROUP, BOB, "/ask Who founded the Orland Jazz Festival?")
            assert OSEI_BORN in await _ask(api, GROUP, ALICE, "/ask Where was he born?")
            assert WEBB_BORN in await _ask(api, GROUP, BOB, "/ask Where was he born?")
            # Carol has asked nothing; her reply to Alice's first answer continues that answer's conversation.
            assert OSEI_BORN in await _ask(api, GROUP, CAROL, "When was he born?", reply_to=osei_answer)
            # ... and it is now Carol's: her next follow-up leans on it, Bob's conversation is untouched.
            coached = await _ask(api, GROUP, CAROL, "/ask Which team did he later coach?")
            assert "Osei later became a coach of the national team of Norway." in coached
            visitors = await _ask(api, GROUP, BOB, "/ask How many visitors did it draw in 2019?")
            assert "In 2019 it drew 60,000 visitors over four days." in visitors

    run(scenario(), timeout=180)


def test_new_forgets_the_conversation_and_why_explains_the_last_answer(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library) as api:
            chat = private(ALICE)
            first = await _ask(api, chat, ALICE, "When did Lumen Bakeries move its headquarters to Vienna?")
            assert "moved its headquarters to Vienna" in first
            assert "The move was made because Austrian banks" in await _ask(api, chat, ALICE, "Why?")
            # More quotes asks the follow-up again the way it was asked: alone, "Why?" would find nothing.
            why_answer = api.messages_in(chat.id)[-1]
            api.press_button(chat, ALICE, why_answer, why_answer.buttons()["More quotes"])
            more = (await api.wait_for_messages(chat.id, 3, timeout=30))[2]
            assert more.entity_texts("blockquote") and "Lumen Bakeries moves to Vienna" in more.text
            why = await _ask(api, chat, ALICE, "/why")
            assert why.startswith("Why this answer to 'Why?'")
            assert "searched as 'Why did Lumen Bakeries move its headquarters to Vienna?'" in why
            assert "1. quoted: “The move was made because Austrian banks" in why
            assert "threshold" in why and "why it lost" in why
            assert "A new conversation" in await _ask(api, chat, ALICE, "/new")
            assert await _ask(api, chat, ALICE, "Why?") == NOT_FOUND_HTML
            # Bob never asked: /why has nothing to explain for him.
            assert "Ask a question first" in await _ask(api, private(BOB), BOB, "/why")

    run(scenario(), timeout=120)


def test_filters_in_the_question_and_a_bad_one_gets_one_line(library: Library) -> None:
    async def scenario() -> None:
        async with running_bot(library) as api:
            chat = private(CAROL)
            filtered = await _ask(api, chat, CAROL, "since:2015-01-01 until:2015 How many people were hurt?")
            assert "Forty people were hurt" in filtered
            sport = await _ask(api, chat, CAROL, "source:*sport.example.com* How many were hurt?")
            assert "Three runners were hurt" in sport
            bad = await _ask(api, chat, CAROL, "since:soon How many were hurt?")
            assert "since" in bad and "2015-03-31" in bad and "\n" not in bad and "Traceback" not in bad
            helped = await _ask(api, chat, CAROL, "/help")
            assert "since:2015-01-01 source:wikinews Who won?" in helped and "/why" in helped and "/new" in helped

    run(scenario(), timeout=120)


def test_a_conversation_is_forgotten_after_thirty_minutes_of_silence() -> None:
    now = [1000.0]
    store = ConversationStore(clock=lambda: now[0])
    turned = Conversation().then(_answer("Who won?"))
    store.answered(1, 7, Asked("Who won?", Conversation(), None), turned, [55])
    assert store.conversation(1, 7) == turned
    assert store.conversation(1, 8) == Conversation()  # another member of the same chat
    assert store.conversation(2, 7) == Conversation()  # the same user in another chat
    assert store.conversation(1, 8, replying_to=55) == turned
    now[0] += SILENCE_SECONDS - 1
    assert store.conversation(1, 7) == turned  # reading keeps nothing alive beyond the answer's own time
    now[0] += 2
    assert store.conversation(1, 7) == Conversation()
    assert store.conversation(1, 8, replying_to=55) == Conversation()
    assert store.last_asked(1, 7) is None


def _answer(question: str) -> Answer:
    return Answer(question=question, found=False, quotes=[])
