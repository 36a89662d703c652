"""The Telegram front end: handlers, ``build_application(settings, library)`` and ``run_telegram(...)``.

Private chats: every text message is a question. Groups (privacy mode on): ``/ask QUESTION``, a message
that mentions the bot, or a reply to one of its messages. Answers quote the articles verbatim (see
``bot.formatting``); buttons page through more quotes and show a quote's paragraph, with the answer kept
on the server behind a short key because Telegram limits callback data to 64 bytes (``bot.answers``).
Who may ask, and press whose buttons, is ``bot.access``. ``/add`` fetches only http(s) URLs, under a
guarded ``FetchPolicy`` and in a thread pool of its own, so hung servers cannot delay anyone's answer.
Questions reach the engine through a fair queue (``bot.scheduler``), users served in turn, after the
per-user limits of ``bot.limits``: a flood of questions delays only its sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import secrets
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot.access import access_warning, button_refusal, stranger_text
from bot.answers import QUOTES_PER_QUESTION, AnswerStore, StoredAnswer
from bot.config import DEFAULT_FETCH_THREADS, ConfigError, Settings, with_setting_names
from bot.conversations import Asked, ConversationStore
from bot.filters import FILTER_HELP, split_filters
from bot.formatting import answer_to_html, context_to_html, escape, explanation_to_html, sources_to_html
from bot.limits import QuestionLimits
from bot.redaction import redact, redact_secret
from bot.scheduler import FairScheduler
from index import (
    SOURCE_SUFFIXES,
    AddReport,
    Answer,
    Document,
    FetchPolicy,
    QuotebotError,
    SourceError,
    documents_from_bytes,
    is_url,
)

if TYPE_CHECKING:
    from index import Library

__all__ = ["TelegramUnavailable", "build_application", "check_bot_api", "run_telegram", "webhook_options"]

logger = logging.getLogger(__name__)

QUESTION_LIMIT = 1000
FIRST_PAGE = 1
MORE_PAGE = 3
# The engine marks a short answer in every quote it returns, a model call each (~25 ms), so the first ask
# fetches one quote more than shown (enough to know whether "More quotes" has anything) and the first
# press of "More quotes" asks once more, this deep; later pages come from the stored answer.
FIRST_ASK_DEPTH = FIRST_PAGE + 1
SOURCES_PER_PAGE = 10
# Telegram lets bots download files up to 20 MB (more needs a self-hosted Bot API server).
DOWNLOAD_LIMIT = 20 * 1024 * 1024
# URL fetches wait on other servers, so they get their own few threads: hung ones must not starve `ask`.
FETCH_THREADS = DEFAULT_FETCH_THREADS
FETCH_REDIRECTS = 5
# Flood control answers 429 with retry_after; retrying delays an answer instead of losing it.
RATE_LIMIT_RETRIES = 5
APOLOGY = "Sorry, something went wrong while answering. Please try again in a moment."
EXPIRED = "This answer has expired; please ask the question again."
_STATE_KEY = "quotebot"

Context = ContextTypes.DEFAULT_TYPE
_MESSAGES_ONLY = filters.UpdateType.MESSAGE


class TelegramUnavailable(ConfigError):
    """The Bot API refused the token or could not be reached; the message is one line without the token."""


@dataclass
class BotState:
    """What the handlers share: settings, library, stored answers, limits, the engine's fair queue, the pools."""

    settings: Settings
    library: Library
    answers: AnswerStore
    limits: QuestionLimits
    engine: FairScheduler
    # The library allows concurrent readers but one writer; add/remove queue here instead of failing.
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    fetch_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="quotebot-fetch")
    )
    # Each chat's (in groups each member's) conversation, for follow-ups, /new and /why.
    conversations: ConversationStore = field(default_factory=ConversationStore)


def _new_state(settings: Settings, library: Library) -> BotState:
    return BotState(
        settings=settings,
        library=library,
        answers=AnswerStore(capacity=settings.stored_answers, per_user=settings.stored_answers_per_user),
        limits=QuestionLimits(in_flight=settings.questions_in_flight, per_minute=settings.questions_per_minute),
        engine=FairScheduler(workers=settings.engine_workers),
        fetch_pool=ThreadPoolExecutor(max_workers=settings.fetch_threads, thread_name_prefix="quotebot-fetch"),
    )


def _state(context: Context) -> BotState:
    state = context.bot_data[_STATE_KEY]
    assert isinstance(state, BotState)
    return state


# -- who may ask -------------------------------------------------------------------------------------------------


async def _refuse_stranger(update: Update, context: Context) -> bool:
    """True, after one polite line, when the sender may not ask in this chat; False for members."""
    user, chat = update.effective_user, update.effective_chat
    if chat is None:
        return True
    user_id = user.id if user is not None else None
    if _state(context).settings.may_ask(user_id, chat.id):
        return False
    group = chat.type != ChatType.PRIVATE
    if update.callback_query is not None:
        await update.callback_query.answer(stranger_text(user_id, chat.id, group=group, html=False))
    elif update.effective_message is not None:
        await _reply(update.effective_message, stranger_text(user_id, chat.id, group=group, html=True))
    return True


# -- sending -----------------------------------------------------------------------------------------------------


def _reply_to(message: Message) -> ReplyParameters:
    # The question may be deleted while we think; the answer should still arrive.
    return ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)


async def _send_parts(
    context: Context, chat_id: int, parts: Sequence[str], *, reply_to: Message | None, markup: Any = None
) -> list[Message]:
    """Send HTML parts in order: the first replies to ``reply_to``, the last carries the keyboard."""
    sent = []
    for number, part in enumerate(parts):
        sent.append(
            await context.bot.send_message(
                chat_id,
                part,
                reply_parameters=_reply_to(reply_to) if reply_to is not None and number == 0 else None,
                reply_markup=markup if number == len(parts) - 1 else None,
            )
        )
    return sent


async def _reply(message: Message, text: str) -> None:
    await message.reply_text(text, reply_parameters=_reply_to(message))


def _answer_keyboard(key: str, answer: Answer, first: int, shown: int) -> InlineKeyboardMarkup | None:
    """Context buttons for the quotes shown and More quotes while some remain; data is "c:KEY:3"/"m:KEY:4"."""
    indexes = list(range(first, min(first + shown, len(answer.quotes))))
    row = [
        InlineKeyboardButton("Context" if len(indexes) == 1 else f"Context {number}", callback_data=f"c:{key}:{index}")
        for number, index in enumerate(indexes, start=1)
    ]
    rows = [row] if row else []
    if first + shown < len(answer.quotes):
        rows.append([InlineKeyboardButton("More quotes", callback_data=f"m:{key}:{first + shown}")])
    return InlineKeyboardMarkup(rows) if rows else None


def _sources_keyboard(page: int, total: int) -> InlineKeyboardMarkup | None:
    pages = (total + SOURCES_PER_PAGE - 1) // SOURCES_PER_PAGE
    row = []
    if page > 0:
        row.append(InlineKeyboardButton("« Previous", callback_data=f"s:{page - 1}"))
    if page + 1 < pages:
        row.append(InlineKeyboardButton("Next »", callback_data=f"s:{page + 1}"))
    return InlineKeyboardMarkup([row]) if row else None


# -- asking ------------------------------------------------------------------------------------------------------


async def _answer_question(update: Update, context: Context, question: str) -> None:
    """Check the question and its asker's limits, then queue it for the engine; the reply follows in a task."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or await _refuse_stranger(update, context):
        return
    # "since:2015 source:wikinews Who won?": the filter words come out of the question (a bad one is a
    # QuotebotError, which the error handler turns into its one line).
    question, where = split_filters(question.strip())
    if not question:
        await _reply(message, "Ask me a question about the articles, e.g. <i>Who won the 2023 election?</i>")
        return
    if len(question) > QUESTION_LIMIT:
        await _reply(
            message,
            f"That question is {len(question):,} characters long; please keep it under {QUESTION_LIMIT:,}.",
        )
        return
    state = _state(context)
    owner = _owner(update, chat.id)
    refusal = state.limits.admit(owner)
    if refusal is not None:
        if refusal.notify:
            await _reply(message, refusal.text)
        return
    # Queued now, in the order updates arrive. The answer is awaited in a task, so that a flood of questions
    # waits in the fair queue, where turns are fair, not in PTB's few concurrent update slots; "typing…" is
    # sent from the handler, so those slots still bound how many requests go out at once.
    user_id = update.effective_user.id if update.effective_user is not None else None
    replied = message.reply_to_message
    to_us = replied is not None and replied.from_user is not None and replied.from_user.id == context.bot.id
    conversation = state.conversations.conversation(
        chat.id, user_id, replying_to=replied.message_id if to_us and replied is not None else None
    )
    ask = functools.partial(state.library.ask, question, k=FIRST_ASK_DEPTH, conversation=conversation, where=where)
    work = state.engine.submit(owner, ask)
    asked = Asked(question, conversation, where)
    context.application.create_task(_reply_when_answered(update, context, work, owner, asked), update=update)
    try:
        await chat.send_action(ChatAction.TYPING)
    except TelegramError as error:
        # "typing…" is a courtesy; failing to show it must not cost the answer.
        logger.debug("could not show typing in chat %s: %s", chat.id, error)


async def _reply_when_answered(
    update: Update, context: Context, work: asyncio.Future[Answer], owner: int, asked: Asked
) -> None:
    """Reply with the best quote and buttons once the question has had its turn with the engine."""
    state = _state(context)
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    user = update.effective_user
    try:
        answer = await work
        markup = None
        if answer.found and answer.quotes:
            stored = StoredAnswer(
                answer, FIRST_ASK_DEPTH, chat.id, user.id if user else None, asked.conversation, asked.where
            )
            key = state.answers.put(stored)
            markup = _answer_keyboard(key, answer, 0, FIRST_PAGE)
        parts = answer_to_html(answer, first=0, count=FIRST_PAGE)
        sent = await _send_parts(context, chat.id, parts, reply_to=message, markup=markup)
        state.conversations.answered(
            chat.id,
            user.id if user else None,
            asked,
            asked.conversation.then(answer),
            [reply.message_id for reply in sent],
        )
    finally:
        work.cancel()
        state.limits.release(owner)


def _owner(update: Update, chat_id: int) -> int:
    """Whose share a question or button press counts against: its user's, or its chat's when it has none."""
    user = update.effective_user
    return user.id if user is not None else chat_id


async def private_question(update: Update, context: Context) -> None:
    """Answers any text message in a private chat as a question."""
    message = update.effective_message
    if message is not None and message.text is not None:
        await _answer_question(update, context, _without_mention(message.text, context.bot.username))


async def ask_command(update: Update, context: Context) -> None:
    """Answers ``/ask QUESTION`` in any chat."""
    message = update.effective_message
    if message is None or message.text is None or await _refuse_stranger(update, context):
        return
    words = message.text.split(maxsplit=1)
    question = _without_mention(words[1] if len(words) > 1 else "", context.bot.username)
    if not question.strip():
        await _reply(message, "Ask like this: <code>/ask Which country hasn't approved Sweden?</code>")
        return
    await _answer_question(update, context, question)


async def group_message(update: Update, context: Context) -> None:
    """Answers a group message that mentions the bot or replies to one of its messages; ignores the rest."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    replied = message.reply_to_message
    is_reply = replied is not None and replied.from_user is not None and replied.from_user.id == context.bot.id
    mention = f"@{context.bot.username}".lower()
    is_mention = any(text.lower() == mention for text in message.parse_entities([MessageEntityType.MENTION]).values())
    if is_reply or is_mention:
        await _answer_question(update, context, _without_mention(message.text, context.bot.username))


def _without_mention(text: str, username: str) -> str:
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE).strip()


# -- buttons -----------------------------------------------------------------------------------------------------


async def button_pressed(update: Update, context: Context) -> None:
    """Handles More quotes, Context and the /sources pages; stale or unknown buttons get a polite note."""
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None or await _refuse_stranger(update, context):
        return
    kind, _, rest = (query.data or "").partition(":")
    if kind == "s" and rest.isdigit():
        await query.answer()
        await _show_sources(update, context, int(rest), edit=True)
        return
    key, _, index_text = rest.partition(":")
    state = _state(context)
    stored = state.answers.get(key) if kind in ("m", "c") and index_text.isdigit() else None
    index = int(index_text) if index_text.isdigit() else -1
    if stored is None or not 0 <= index < len(stored.answer.quotes):
        await query.answer(EXPIRED)
        return
    refusal = button_refusal(stored, chat_id=chat.id, group=chat.type != ChatType.PRIVATE, user_id=query.from_user.id)
    if refusal is not None:
        await query.answer(refusal)
        return
    # A press that needs the engine waits its owner's turn and counts as in flight, but not as a question.
    owner = _owner(update, chat.id)
    busy = state.limits.admit(owner, counted=False)
    if busy is not None:
        await query.answer(busy.text)
        return
    try:
        await query.answer()
        origin = query.message if isinstance(query.message, Message) else None
        if kind == "m":
            if index + MORE_PAGE > len(stored.answer.quotes) and not stored.complete:
                await chat.send_action(ChatAction.TYPING)
                ask = functools.partial(
                    state.library.ask,
                    stored.answer.question,
                    k=QUOTES_PER_QUESTION,
                    conversation=stored.conversation,
                    where=stored.where,
                )
                deeper = await state.engine.submit(owner, ask)
                stored = StoredAnswer(
                    deeper, QUOTES_PER_QUESTION, stored.chat_id, stored.user_id, stored.conversation, stored.where
                )
                state.answers.put(stored, key=key)
            parts = answer_to_html(stored.answer, first=index, count=MORE_PAGE)
            markup = _answer_keyboard(key, stored.answer, index, MORE_PAGE)
            await _send_parts(context, chat.id, parts, reply_to=origin, markup=markup)
            return
        quote = stored.answer.quotes[index]
        paragraph = await state.engine.submit(owner, functools.partial(state.library.context, quote))
        await _send_parts(context, chat.id, context_to_html(paragraph, quote), reply_to=origin)
    finally:
        state.limits.release(owner)


# -- commands ----------------------------------------------------------------------------------------------------


async def help_command(update: Update, context: Context) -> None:
    """Says what the bot knows and how to ask (``/start`` and ``/help``)."""
    message = update.effective_message
    if message is None or await _refuse_stranger(update, context):
        return
    state = _state(context)
    articles = await asyncio.to_thread(state.library.articles)
    lines = [
        f"I answer questions about <b>{len(articles)} articles</b> by quoting their exact sentences, "
        "with the answer in bold. When they don't say, I tell you it is not found.",
        "",
        "In this chat, just send a question, e.g. <i>Which country hasn't approved Sweden?</i>",
        f"In groups: <code>/ask QUESTION</code>, mention @{escape(context.bot.username)}, "
        "or reply to one of my messages.",
        "Under an answer: <b>More quotes</b> shows the next ones, <b>Context</b> the paragraph around it.",
        "Follow-ups such as <i>When was she born?</i> or <i>Why?</i> lean on your last answer (or on the answer "
        "you reply to); /new starts afresh, and I forget a conversation after 30 minutes of silence.",
        "/why says why the last answer is what it is: the candidates, their scores and the threshold.",
        f"Filters go into the question: {escape(FILTER_HELP)}, e.g. "
        "<code>since:2015-01-01 source:wikinews Who won?</code>",
        "/sources lists the articles.",
    ]
    user = update.effective_user
    if state.settings.is_admin(user.id if user else None):
        lines += [
            "",
            "As an admin: <code>/add URL</code>, or send a file (.pdf, .docx, .epub, .txt, .md, .html, .json, "
            ".jsonl; up to 20 MB) here, or in a group with the caption <code>/add</code>, to add articles; "
            "<code>/remove ID</code> to remove one.",
        ]
    await message.reply_text("\n".join(lines))


def _asker(update: Update) -> tuple[int, int | None] | None:
    chat, user = update.effective_chat, update.effective_user
    return None if chat is None else (chat.id, user.id if user is not None else None)


async def new_command(update: Update, context: Context) -> None:
    """Starts a new conversation for this user in this chat (``/new``)."""
    message, asker = update.effective_message, _asker(update)
    if message is None or asker is None or await _refuse_stranger(update, context):
        return
    _state(context).conversations.forget(*asker)
    await _reply(message, "A new conversation: your next question stands on its own.")


async def why_command(update: Update, context: Context) -> None:
    """Explains this user's last answer in this chat: candidates, scores, threshold, why others lost (``/why``)."""
    message, asker = update.effective_message, _asker(update)
    if message is None or asker is None or await _refuse_stranger(update, context):
        return
    state = _state(context)
    asked = state.conversations.last_asked(*asker)
    if asked is None:
        await _reply(message, "Ask a question first; /why then explains its answer.")
        return
    owner = _owner(update, asker[0])
    busy = state.limits.admit(owner, counted=False)
    if busy is not None:
        await _reply(message, busy.text)
        return
    try:
        explain = functools.partial(
            state.library.explain, asked.question, k=FIRST_PAGE, conversation=asked.conversation, where=asked.where
        )
        explanation = await state.engine.submit(owner, explain)
        await _send_parts(context, asker[0], explanation_to_html(explanation), reply_to=message)
    finally:
        state.limits.release(owner)


async def sources_command(update: Update, context: Context) -> None:
    """Lists the articles, ten per page, with Previous/Next buttons."""
    if not await _refuse_stranger(update, context):
        await _show_sources(update, context, 0, edit=False)


async def _show_sources(update: Update, context: Context, page: int, *, edit: bool) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    articles = await asyncio.to_thread(_state(context).library.articles)
    pages = max(1, (len(articles) + SOURCES_PER_PAGE - 1) // SOURCES_PER_PAGE)
    page = min(max(page, 0), pages - 1)
    text = sources_to_html(articles, page=page, per_page=SOURCES_PER_PAGE)
    markup = _sources_keyboard(page, len(articles))
    query = update.callback_query
    if edit and query is not None and isinstance(query.message, Message):
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as error:
            # Pressing the button of the page already shown is not an error worth a message.
            if "not modified" not in str(error):
                raise
        return
    await context.bot.send_message(chat.id, text, reply_markup=markup)


async def _refuse_unless_admin(update: Update, context: Context) -> bool:
    """False for admins; anyone else gets one short refusal (in groups too, since they addressed us)."""
    user = update.effective_user
    if _state(context).settings.is_admin(user.id if user else None):
        return False
    if await _refuse_stranger(update, context):
        return True
    if update.effective_message is not None:
        await _reply(update.effective_message, "Only the bot's admins can add or remove articles.")
    return True


async def add_command(update: Update, context: Context) -> None:
    """Adds the articles at the given http(s) URLs (admins only); never a path on the server."""
    message = update.effective_message
    if message is None or await _refuse_unless_admin(update, context):
        return
    sources = context.args or []
    if not sources:
        await _reply(message, "Add like this: <code>/add https://example.com/article</code>, or send me a file.")
        return
    not_urls = [source for source in sources if not is_url(source)]
    if not_urls:
        await _reply(
            message,
            f"I add only http(s) URLs, never a path on the server; {escape(repr(not_urls[0]))} is not one. "
            "Send a file to add it.",
        )
        return
    await message.chat.send_action(ChatAction.TYPING)
    state = _state(context)
    errors: list[SourceError] = []
    read = functools.partial(_read_urls, state.library, sources, _fetch_policy(state.settings), errors)
    documents = await asyncio.get_running_loop().run_in_executor(state.fetch_pool, read)
    await _reply(message, _report_html(await _add(context, documents, errors), errors))


def _fetch_policy(settings: Settings) -> FetchPolicy:
    """URLs from a chat: public addresses only (unless allowed by name), within the download limits."""
    return FetchPolicy(
        public_only=True,
        allowed_hosts=settings.allowed_hosts,
        max_bytes=settings.max_download_bytes,
        deadline=settings.fetch_deadline,
        max_redirects=FETCH_REDIRECTS,
    )


def _read_urls(library: Library, urls: list[str], policy: FetchPolicy, errors: list[SourceError]) -> list[Document]:
    """The articles at `urls`; each URL that cannot be fetched or read is one error in `errors`, the rest go on."""
    return list(library.read_sources(urls, fetch=policy, errors=errors))


def _is_add_caption(caption: str | None, username: str) -> bool:
    """Whether a file's caption starts with /add (or /add@thisbot), the way to add a file in a group."""
    first = (caption or "").split(maxsplit=1)[0:1]
    return bool(first) and first[0].lower() in ("/add", f"/add@{username}".lower())


async def document_received(update: Update, context: Context) -> None:
    """Adds the articles in a sent file (admins only; in a private chat, or in a group with the caption /add)."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    # A file shared in a group is conversation, not a request, unless its caption asks for /add.
    if message.chat.type != ChatType.PRIVATE and not _is_add_caption(message.caption, context.bot.username):
        return
    if await _refuse_unless_admin(update, context):
        return
    document = message.document
    name = PurePath(document.file_name or "upload.txt").name
    if not name.lower().endswith(SOURCE_SUFFIXES):
        await _reply(message, f"I can read {', '.join(SOURCE_SUFFIXES)} files; {escape(repr(name))} is not one.")
        return
    limit = min(DOWNLOAD_LIMIT, _state(context).settings.max_download_bytes)
    if (document.file_size or 0) > limit:
        await _reply(message, f"That file is {document.file_size:,} bytes; the most I download is {limit:,}.")
        return
    await message.chat.send_action(ChatAction.TYPING)
    telegram_file = await document.get_file()
    data = bytes(await telegram_file.download_as_bytearray())
    # Each upload is its own source: two files both named report.txt must not replace each other.
    source = f"telegram:{document.file_unique_id}/{name}"
    errors: list[SourceError] = []
    documents = await asyncio.to_thread(documents_from_bytes, data, name=name, source=source, errors=errors)
    await _reply(message, _report_html(await _add(context, documents, errors), errors))


async def _add(context: Context, documents: list[Document], errors: list[SourceError]) -> AddReport:
    state = _state(context)
    async with state.write_lock:
        return await asyncio.to_thread(state.library.add, documents, errors=errors)


# Past this many failed items, the rest are counted: a reply stays one message.
_ERRORS_SHOWN = 10


def _report_html(report: AddReport, errors: Sequence[SourceError] = ()) -> str:
    """What an /add did: the ids added, replaced and unchanged, then one line per item that was not added."""

    def ids(label: str, values: list[str]) -> str:
        shown = ", ".join(f"<code>{escape(value)}</code>" for value in values[:20])
        more = f" and {len(values) - 20} more" if len(values) > 20 else ""
        return f"{label}: {len(values)}" + (f" ({shown}{more})" if values else "")

    failed = [escape(redact(with_setting_names(str(error)))[:300]) for error in errors[:_ERRORS_SHOWN]]
    if len(errors) > _ERRORS_SHOWN:
        failed.append(f"… and {len(errors) - _ERRORS_SHOWN} more not added")
    if errors and not (report.added or report.replaced or report.unchanged):
        return "\n".join(failed)  # nothing was added: only why, one line per item
    lines = [ids("Added", report.added), ids("Replaced", report.replaced), ids("Unchanged", report.unchanged)]
    if errors:
        lines.append(f"Not added: {len(errors)}")
        lines.extend(f"• {line}" for line in failed)
    return "\n".join(lines)


async def remove_command(update: Update, context: Context) -> None:
    """Removes articles by id (admins only); ids are shown by /sources."""
    message = update.effective_message
    if message is None or await _refuse_unless_admin(update, context):
        return
    article_ids = context.args or []
    if not article_ids:
        await _reply(message, "Remove like this: <code>/remove ID</code>; /sources shows the ids.")
        return
    state = _state(context)
    async with state.write_lock:
        removed = await asyncio.to_thread(state.library.remove, article_ids)
    await _reply(message, "Removed: " + ", ".join(f"<code>{escape(article_id)}</code>" for article_id in removed))


async def unknown_command(update: Update, context: Context) -> None:
    """Points a private chat's unknown command to /help."""
    if update.effective_message is not None and not await _refuse_stranger(update, context):
        await _reply(update.effective_message, "I don't know that command; /help shows what I can do.")


async def unsupported_message(update: Update, context: Context) -> None:
    """Explains, in a private chat, that stickers, photos and the like are not questions."""
    if update.effective_message is not None and not await _refuse_stranger(update, context):
        await _reply(update.effective_message, "I answer text questions about the articles; /help shows how.")


async def error_handler(update: object, context: Context) -> None:
    """Logs the failure and tells the user briefly: an engine error's one line, else an apology."""
    error = context.error
    if isinstance(error, QuotebotError):
        logger.info("engine refused an update: %s", error)
        text = escape(str(error))
    else:
        logger.error("an update failed", exc_info=error)
        text = APOLOGY
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    message = update.effective_message if update.callback_query is None else None
    try:
        await context.bot.send_message(
            update.effective_chat.id, text, reply_parameters=_reply_to(message) if message is not None else None
        )
    except TelegramError as send_error:
        logger.warning("could not tell chat %s about a failure: %s", update.effective_chat.id, send_error)


# -- the application ---------------------------------------------------------------------------------------------

COMMANDS = [
    BotCommand("ask", "Ask a question about the articles"),
    BotCommand("sources", "List the articles I know"),
    BotCommand("why", "Why the last answer is what it is"),
    BotCommand("new", "Start a new conversation"),
    BotCommand("help", "What I know and how to ask"),
    BotCommand("start", "Start here"),
    BotCommand("add", "Add articles from a URL (admins)"),
    BotCommand("remove", "Remove an article by id (admins)"),
]


async def _register_commands(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Shows the commands in Telegram's menu (called once at start-up)."""
    await application.bot.set_my_commands(COMMANDS)


async def _close_pools(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Lets the engine and URL fetch threads go once the bot stops (a fetch under way ends by its own deadline)."""
    state = application.bot_data.get(_STATE_KEY)
    if isinstance(state, BotState):
        state.engine.close()
        state.fetch_pool.shutdown(wait=False, cancel_futures=True)


def build_application(settings: Settings, library: Library) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot, ready to run: handlers, rate limiter and shared state; raises ConfigError on a bad token."""
    token = settings.telegram_token_value()
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=settings.telegram_max_rate, overall_time_period=1, max_retries=RATE_LIMIT_RETRIES
            )
        )
        .concurrent_updates(settings.telegram_concurrent_updates)
        .post_init(_register_commands)
        .post_shutdown(_close_pools)
        .build()
    )
    application.bot_data[_STATE_KEY] = _new_state(settings, library)
    warning = access_warning(settings)
    if warning is not None:
        logger.warning(warning)
    private = filters.ChatType.PRIVATE
    application.add_handlers(
        [
            CommandHandler(["start", "help"], help_command, filters=_MESSAGES_ONLY),
            CommandHandler("ask", ask_command, filters=_MESSAGES_ONLY),
            CommandHandler("sources", sources_command, filters=_MESSAGES_ONLY),
            CommandHandler("new", new_command, filters=_MESSAGES_ONLY),
            CommandHandler("why", why_command, filters=_MESSAGES_ONLY),
            CommandHandler("add", add_command, filters=_MESSAGES_ONLY),
            CommandHandler("remove", remove_command, filters=_MESSAGES_ONLY),
            CallbackQueryHandler(button_pressed),
            MessageHandler(_MESSAGES_ONLY & private & filters.TEXT & ~filters.COMMAND, private_question),
            MessageHandler(_MESSAGES_ONLY & filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND, group_message),
            MessageHandler(_MESSAGES_ONLY & filters.Document.ALL, document_received),
            MessageHandler(_MESSAGES_ONLY & private & filters.COMMAND, unknown_command),
            # Stickers, photos, voice notes...; edited messages match nothing and are ignored.
            MessageHandler(_MESSAGES_ONLY & private, unsupported_message),
        ]
    )
    application.add_error_handler(error_handler)
    return application


# Edited messages are not subscribed to: answering a question twice would confuse more than help.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]


def check_bot_api(settings: Settings) -> None:
    """Ask the Bot API who we are, once, quietly; a refused token or an unreachable server raises TelegramUnavailable.

    Called before the library opens, so that a revoked token costs no indexing, and before the application
    runs, whose own start-up failure logs a traceback.
    """
    token = settings.telegram_token_value()
    redact_secret(token)

    async def get_me() -> None:
        async with Bot(token, base_url=settings.telegram_base_url, base_file_url=settings.telegram_base_file_url):
            pass

    with _bot_api_errors(settings):
        asyncio.run(get_me())


@contextlib.contextmanager
def _bot_api_errors(settings: Settings) -> Iterator[None]:
    """Turns a refused token or a network failure into one TelegramUnavailable line that names only the server."""
    host = urlsplit(settings.telegram_base_url).netloc or settings.telegram_base_url
    try:
        yield
    except InvalidToken:
        # PTB's own message quotes the token.
        raise TelegramUnavailable(
            f"the Bot API at {host} refused QUOTEBOT_TELEGRAM_TOKEN (revoked or mistyped); "
            "copy the token @BotFather gives again."
        ) from None
    except NetworkError as error:
        reason = " ".join(redact(str(error)).split())
        raise TelegramUnavailable(
            f"cannot reach the Bot API at {host} ({type(error).__name__}: {reason}); "
            "check the network and QUOTEBOT_TELEGRAM_BASE_URL."
        ) from None


def run_telegram(
    settings: Settings,
    library: Library,
    *,
    webhook_url: str | None = None,
    listen: str = "0.0.0.0",
    port: int = 8443,
) -> None:
    """Run the bot until interrupted: long polling, or a webhook server when ``webhook_url`` is given.

    The webhook server listens on ``listen:port`` at the URL's path (put it behind HTTPS); Telegram must
    send ``settings.telegram_webhook_secret`` (random per run when unset) with every update. The caller
    owns ``library`` and closes it afterwards. A refused token or an unreachable Bot API raises
    TelegramUnavailable, one line without the token.
    """
    # Before the application exists: building it logs the Bot API URL, which holds the token, at DEBUG.
    redact_secret(settings.telegram_token_value())
    application = build_application(settings, library)
    with _bot_api_errors(settings):
        if webhook_url is None:
            application.run_polling(allowed_updates=ALLOWED_UPDATES)
        else:
            application.run_webhook(**webhook_options(settings, webhook_url, listen=listen, port=port))


def webhook_options(settings: Settings, webhook_url: str, *, listen: str, port: int) -> dict[str, Any]:
    """Arguments of ``run_webhook``/``start_webhook``: served at the URL's path, guarded by a secret token."""
    secret = settings.telegram_webhook_secret
    return {
        "listen": listen,
        "port": port,
        "url_path": urlsplit(webhook_url).path.lstrip("/"),
        "webhook_url": webhook_url,
        "secret_token": secret.get_secret_value() if secret else secrets.token_urlsafe(32),
        "allowed_updates": ALLOWED_UPDATES,
    }
