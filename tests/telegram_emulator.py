"""A Telegram Bot API emulator on 127.0.0.1 for end-to-end tests of the real python-telegram-bot stack.

The bot under test talks HTTP to it exactly as to api.telegram.org (``base_url`` / ``base_file_url``); the
test plays users: it injects messages, documents and button presses as updates, and reads what the bot
sent. Requests are validated the way Telegram does: HTML entities (allowed tags only, balanced), the
4,096-character limit counted after entity parsing in UTF-16 units, 64-byte callback data, 20 MB downloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Self

import aiohttp
from aiohttp import web

__all__ = [
    "BOT_TOKEN",
    "BOT_USERNAME",
    "BotApiEmulator",
    "Chat",
    "EntityError",
    "SentMessage",
    "User",
    "parse_telegram_html",
]

BOT_TOKEN = "123456789:AAFakeTokenForTheEmulatorOnly_0123456"
BOT_ID = 123456789
BOT_USERNAME = "quotebot_test_bot"
MESSAGE_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
DOWNLOAD_LIMIT = 20 * 1024 * 1024

_ALLOWED_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_TOKEN_REFUSALS = {401: "Unauthorized", 404: "Not Found"}
_ENTITY_REFERENCE = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(?:\s+[^<>]*)?>")


class EntityError(ValueError):
    """Telegram's "can't parse entities" (or an empty or over-long text) for a message."""


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _TelegramHTML(HTMLParser):
    """Collects plain text and entities, refusing what Telegram's HTML parser refuses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text_parts: list[str] = []
        self.length = 0
        self.stack: list[tuple[str, int, dict[str, str | None]]] = []
        self.entities: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            raise EntityError(f'Unsupported start tag "{tag}"')
        attributes = dict(attrs)
        if tag == "a" and not attributes.get("href"):
            raise EntityError('Can\'t find "href" attribute of the tag "a"')
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise EntityError('Tag "span" must have class "tg-spoiler"')
        if any(open_tag in ("code", "pre") for open_tag, _, _ in self.stack) and tag != "code":
            raise EntityError(f'Entities can\'t be nested in "pre" or "code": "{tag}"')
        if tag == "blockquote" and any(open_tag == "blockquote" for open_tag, _, _ in self.stack):
            raise EntityError("Blockquote entities can't be nested")
        self.stack.append((tag, self.length, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise EntityError(f'Unsupported start tag "{tag}/"')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise EntityError(f'Unexpected end tag "{tag}"')
        open_tag, start, attributes = self.stack.pop()
        if open_tag != tag:
            raise EntityError(f'Unmatched end tag "{tag}", expected "{open_tag}"')
        if self.length > start:
            entity: dict[str, Any] = {"type": _ALLOWED_TAGS[tag], "offset": start, "length": self.length - start}
            if tag == "a":
                entity["url"] = attributes["href"]
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)
        self.length += _utf16(data)

    def handle_comment(self, data: str) -> None:
        raise EntityError("Comments are not supported")

    def handle_decl(self, decl: str) -> None:
        raise EntityError("Declarations are not supported")

    def handle_pi(self, data: str) -> None:
        raise EntityError("Processing instructions are not supported")

    def unknown_decl(self, data: str) -> None:
        raise EntityError("Declarations are not supported")


def parse_telegram_html(markup: str) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and entities (UTF-16 offsets) Telegram makes of an HTML message, or EntityError."""
    for match in re.finditer(r"[<&]", markup):
        rest = markup[match.start() :]
        if match.group() == "&" and not _ENTITY_REFERENCE.match(rest):
            raise EntityError(f"Character '&' is reserved and must be escaped (byte offset {match.start()})")
        if match.group() == "<" and not _TAG.match(rest):
            raise EntityError(f"Unsupported start tag at byte offset {match.start()}")
    parser = _TelegramHTML()
    parser.feed(markup)
    parser.close()
    if parser.stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"')
    text = "".join(parser.text_parts)
    return text, sorted(parser.entities, key=lambda entity: (entity["offset"], -entity["length"]))


@dataclass(frozen=True)
class User:
    """A person the test plays."""

    id: int
    first_name: str
    username: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        return data


@dataclass(frozen=True)
class Chat:
    """A private chat (id = the user's id) or a group (negative id)."""

    id: int
    type: str = "private"
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.title:
            data["title"] = self.title
        return data


@dataclass
class SentMessage:
    """A message the bot sent (or last edited), as Telegram stores it and as the bot wrote it."""

    chat_id: int
    message_id: int
    text: str
    html: str
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    reply_to: int | None
    sent_at: float
    edits: int = 0
    document: bytes | None = None

    def buttons(self) -> dict[str, str]:
        """Button label -> callback data."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return {button["text"]: button.get("callback_data", "") for row in rows for button in row}

    def entity_texts(self, entity_type: str) -> list[str]:
        """The texts covered by entities of one type, sliced by UTF-16 offsets as a client would."""
        encoded = self.text.encode("utf-16-le")
        return [
            encoded[2 * entity["offset"] : 2 * (entity["offset"] + entity["length"])].decode("utf-16-le")
            for entity in self.entities
            if entity["type"] == entity_type
        ]


@dataclass
class _Failure:
    remaining: int
    methods: frozenset[str] | None


@dataclass
class _File:
    data: bytes
    unique_id: str
    path: str


@dataclass
class _State:
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)
    messages: dict[tuple[int, int], SentMessage] = field(default_factory=dict)
    injected_at: dict[tuple[int, int], float] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    callback_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    chat_actions: list[tuple[int, str]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, _File] = field(default_factory=dict)
    chats: dict[int, Chat] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    deliveries: list[int] = field(default_factory=list)


class BotApiEmulator:
    """The Bot API over HTTP on 127.0.0.1 (a random free port); use ``async with BotApiEmulator() as api``."""

    def __init__(self) -> None:
        self.bot = {"id": BOT_ID, "is_bot": True, "first_name": "Quotebot", "username": BOT_USERNAME}
        self.state = _State()
        self._changed = asyncio.Condition()
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._failures: list[_Failure] = []
        self._token_refusal: int | None = None
        self._rejections: list[tuple[str, str]] = []
        # Strong references to notification tasks: the event loop keeps only weak ones.
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        application = web.Application(client_max_size=DOWNLOAD_LIMIT * 2)
        application.router.add_post("/bot{token}/{method}", self._handle_method)
        application.router.add_get("/bot{token}/{method}", self._handle_method)
        application.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        self._runner = web.AppRunner(application, access_log=None)
        await self._runner.setup()
        # Bind first so that the port is known and free: no race between choosing and using it.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        site = web.SockSite(self._runner, listener)
        await site.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what the test does as users ---------------------------------------------------------------------------

    def refuse_token(self, status: int) -> None:
        """Answer every request as Telegram answers a bad token: 401 Unauthorized (revoked) or 404 Not Found."""
        self._token_refusal = status

    def reject_next(self, method: str, description: str) -> None:
        """Answer the next request of ``method`` with 400 and this description (which PTB puts in BadRequest)."""
        self._rejections.append((method, description))

    def fail_next(self, count: int, *, methods: Iterable[str] | None = None) -> None:
        """Answer the next ``count`` requests (of these methods) with flood control's 429, retry after 1 s."""
        self._failures.append(_Failure(count, frozenset(methods) if methods is not None else None))

    def send_text(
        self, chat: Chat, user: User, text: str, *, reply_to: SentMessage | None = None, edited: bool = False
    ) -> dict[str, Any]:
        """A user writes ``text``; entities for commands and mentions are made as Telegram makes them."""
        message = self._new_message(chat, user)
        message["text"] = text
        entities = _auto_entities(text)
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = self._message_dict(self.state.messages[(chat.id, reply_to.message_id)])
        self._inject({"edited_message" if edited else "message": message}, chat, message["message_id"])
        return message

    def send_document(
        self, chat: Chat, user: User, name: str, data: bytes, *, caption: str | None = None
    ) -> dict[str, Any]:
        """A user sends a file; the bot can fetch it with getFile and a download."""
        number = next(self._file_ids)
        file_id = f"document-{number}"
        self.state.files[file_id] = _File(data, f"unique-{number}", f"documents/file_{number}{_suffix(name)}")
        message = self._new_message(chat, user)
        message["document"] = {
            "file_id": file_id,
            "file_unique_id": f"unique-{number}",
            "file_name": name,
            "mime_type": "application/octet-stream",
            "file_size": len(data),
        }
        if caption is not None:
            message["caption"] = caption
        self._inject({"message": message}, chat, message["message_id"])
        return message

    def send_sticker(self, chat: Chat, user: User) -> dict[str, Any]:
        """A user sends a sticker."""
        message = self._new_message(chat, user)
        message["sticker"] = {
            "file_id": "sticker-1",
            "file_unique_id": "sticker-unique-1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        self._inject({"message": message}, chat, message["message_id"])
        return message

    def send_photo(self, chat: Chat, user: User) -> dict[str, Any]:
        """A user sends a photo without a caption."""
        message = self._new_message(chat, user)
        message["photo"] = [{"file_id": "photo-1", "file_unique_id": "photo-unique-1", "width": 90, "height": 90}]
        self._inject({"message": message}, chat, message["message_id"])
        return message

    def press_button(self, chat: Chat, user: User, message: SentMessage, data: str) -> str:
        """A user presses an inline button; returns the callback query id the bot must answer."""
        query_id = f"query-{next(self._callback_ids)}"
        query = {
            "id": query_id,
            "from": user.to_dict(),
            "message": self._message_dict(message),
            "chat_instance": f"instance-{chat.id}",
            "data": data,
        }
        self.state.chats[chat.id] = chat
        self._inject({"callback_query": query}, chat, None)
        return query_id

    async def wait_for_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> list[SentMessage]:
        """The first ``count`` messages the bot sent to a chat, waiting for them; fails after ``timeout``."""

        def ready() -> bool:
            return len(self.messages_in(chat_id)) >= count

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(ready), timeout)
            except TimeoutError:
                got = [message.text[:80] for message in self.messages_in(chat_id)]
                raise AssertionError(
                    f"chat {chat_id}: expected {count} messages within {timeout}s, got {got}; "
                    f"errors: {self.state.errors[-5:]}"
                ) from None
        return self.messages_in(chat_id)[:count]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``condition()`` holds after some request; fails after ``timeout``."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(condition), timeout)
            except TimeoutError:
                raise AssertionError(f"condition not met within {timeout}s; errors: {self.state.errors}") from None

    def messages_in(self, chat_id: int) -> list[SentMessage]:
        return [message for message in self.state.sent if message.chat_id == chat_id]

    def latency(self, message: SentMessage) -> float | None:
        """Seconds from injecting the update a message replies to until the emulator received the reply."""
        if message.reply_to is None:
            return None
        injected = self.state.injected_at.get((message.chat_id, message.reply_to))
        return None if injected is None else message.sent_at - injected

    # -- building updates --------------------------------------------------------------------------------------

    def _new_message(self, chat: Chat, user: User) -> dict[str, Any]:
        self.state.chats[chat.id] = chat
        counter = self._message_ids.setdefault(chat.id, itertools.count(1))
        return {"message_id": next(counter), "date": int(time.time()), "chat": chat.to_dict(), "from": user.to_dict()}

    def _message_dict(self, message: SentMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(message.sent_at),
            "chat": self.state.chats[message.chat_id].to_dict(),
            "from": self.bot,
            "text": message.text,
        }
        if message.entities:
            data["entities"] = message.entities
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    def _inject(self, payload: dict[str, Any], chat: Chat, message_id: int | None) -> None:
        update = {"update_id": next(self._update_ids), **payload}
        self.state.updates.append(update)
        if message_id is not None:
            self.state.injected_at[(chat.id, message_id)] = time.monotonic()
        self._spawn(self._deliver(update) if self.state.webhook_url else self._notify())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, update: dict[str, Any]) -> None:
        """Push one update to the webhook, as Telegram does once setWebhook is called."""
        if self._client is None:
            self._client = aiohttp.ClientSession()
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.state.webhook_secret or ""}
        assert self.state.webhook_url is not None
        try:
            async with self._client.post(self.state.webhook_url, json=update, headers=headers) as response:
                status = response.status
        except aiohttp.ClientError:
            status = 0
        self.state.deliveries.append(status)
        if status == 200:
            self.state.updates.remove(update)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- the Bot API -------------------------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.method == "POST" and request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = value
                else:
                    files[key] = value.file.read()
        params.update(request.query)
        self.state.requests.append((method, params))
        if self._token_refusal is not None:
            return self._error(method, self._token_refusal, _TOKEN_REFUSALS[self._token_refusal])
        rejection = next((item for item in self._rejections if item[0] == method), None)
        if rejection is not None:
            self._rejections.remove(rejection)
            return self._error(method, 400, rejection[1])
        if method != "getUpdates" and self._take_failure(method):
            return self._error(method, 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
        handler = getattr(self, f"_api_{_snake(method)}", None)
        if handler is None:
            return self._error(method, 404, "Not Found: method not found")
        try:
            result = await handler(params, files)
        except EntityError as error:
            return self._error(method, 400, f"Bad Request: can't parse entities: {error}")
        except _BadRequest as error:
            return self._error(method, 400, f"Bad Request: {error}")
        except _Conflict as error:
            return self._error(method, 409, f"Conflict: {error}")
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    def _error(self, method: str, code: int, description: str, **extra: Any) -> web.Response:
        self.state.errors.append((method, description))
        return web.json_response({"ok": False, "error_code": code, "description": description, **extra}, status=code)

    def _take_failure(self, method: str) -> bool:
        for failure in self._failures:
            if failure.remaining > 0 and (failure.methods is None or method in failure.methods):
                failure.remaining -= 1
                return True
        return False

    async def _api_get_me(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return {**self.bot, "can_join_groups": True, "can_read_all_group_messages": False}

    async def _api_delete_webhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        self.state.webhook_url = self.state.webhook_secret = None
        return True

    async def _api_set_webhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _BadRequest("secret token contains unallowed characters")
        self.state.webhook_url, self.state.webhook_secret = params["url"], secret
        return True

    async def _api_get_updates(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if self.state.webhook_url:
            raise _Conflict("can't use getUpdates method while webhook is active; use deleteWebhook to delete it")
        offset = int(params.get("offset", 0) or 0)
        limit = int(params.get("limit", 100) or 100)
        timeout = float(params.get("timeout", 0) or 0)
        if offset:
            # As Telegram does: an offset confirms every update before it, which are then forgotten.
            self.state.updates = [update for update in self.state.updates if update["update_id"] >= offset]

        def pending() -> list[dict[str, Any]]:
            return [update for update in self.state.updates if update["update_id"] >= offset][:limit]

        if not pending() and timeout > 0:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(pending())), timeout)
        return pending()

    async def _api_set_my_commands(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        commands = json.loads(params["commands"])
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]):
                raise _BadRequest(f"BOT_COMMAND_INVALID: {command['command']!r}")
            if not 1 <= len(command["description"]) <= 256:
                raise _BadRequest("BOT_COMMAND_DESCRIPTION_INVALID")
        self.state.commands = commands
        return True

    async def _api_send_chat_action(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        chat_id = self._chat(params)
        self.state.chat_actions.append((chat_id, params["action"]))
        return True

    async def _api_send_message(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        chat_id = self._chat(params)
        text, entities = self._message_text(params["text"], params.get("parse_mode"))
        reply_markup = self._reply_markup(params)
        message = self._store(chat_id, text, params["text"], entities, reply_markup, _reply_to(params))
        return self._message_dict(message)

    async def _api_send_document(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        chat_id = self._chat(params)
        if "document" not in files:
            raise _BadRequest("there is no document in the request")
        caption = params.get("caption", "")
        text, entities = parse_telegram_html(caption) if params.get("parse_mode") == "HTML" else (caption, [])
        message = self._store(chat_id, text, caption, entities, self._reply_markup(params), _reply_to(params))
        message.document = files["document"]
        return self._message_dict(message)

    async def _api_edit_message_text(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        chat_id = self._chat(params)
        key = (chat_id, int(params["message_id"]))
        if key not in self.state.messages:
            raise _BadRequest("message to edit not found")
        message = self.state.messages[key]
        text, entities = self._message_text(params["text"], params.get("parse_mode"))
        reply_markup = self._reply_markup(params)
        if text == message.text and entities == message.entities and reply_markup == message.reply_markup:
            raise _BadRequest(
                "message is not modified: specified new message content and reply markup are exactly the "
                "same as a current content and reply markup of the message"
            )
        message.text, message.html, message.entities = text, params["text"], entities
        message.reply_markup, message.edits = reply_markup, message.edits + 1
        return self._message_dict(message)

    async def _api_answer_callback_query(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        query_id = params["callback_query_id"]
        if query_id in self.state.callback_answers:
            raise _BadRequest("query is too old and response timeout expired or query ID is invalid")
        self.state.callback_answers[query_id] = params
        return True

    async def _api_get_file(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        stored = self.state.files.get(params["file_id"])
        if stored is None:
            raise _BadRequest("invalid file_id")
        if len(stored.data) > DOWNLOAD_LIMIT:
            raise _BadRequest("file is too big")
        return {
            "file_id": params["file_id"],
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }

    async def _handle_download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        for stored in self.state.files.values():
            if stored.path == path:
                return web.Response(body=stored.data)
        return web.Response(status=404, text="Not Found")

    # -- validation ---------------------------------------------------------------------------------------------

    def _chat(self, params: dict[str, Any]) -> int:
        chat_id = int(params["chat_id"])
        if chat_id not in self.state.chats:
            raise _BadRequest("chat not found")
        return chat_id

    def _message_text(self, markup: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
        text, entities = parse_telegram_html(markup) if parse_mode == "HTML" else (markup, [])
        if not text.strip():
            raise _BadRequest("message text is empty")
        if _utf16(text) > MESSAGE_LIMIT:
            raise _BadRequest("message is too long")
        return text, entities

    def _reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        if "reply_markup" not in params:
            return None
        markup: dict[str, Any] = json.loads(params["reply_markup"])
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
                    raise _BadRequest("BUTTON_DATA_INVALID")
        return markup

    def _store(
        self,
        chat_id: int,
        text: str,
        markup: str,
        entities: list[dict[str, Any]],
        reply_markup: dict[str, Any] | None,
        reply_to: int | None,
    ) -> SentMessage:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        message = SentMessage(chat_id, next(counter), text, markup, entities, reply_markup, reply_to, time.monotonic())
        self.state.sent.append(message)
        self.state.messages[(chat_id, message.message_id)] = message
        return message


class _BadRequest(Exception):
    """A 400 answer with Telegram's description."""


class _Conflict(Exception):
    """A 409 answer: getUpdates while a webhook is set."""


def _snake(method: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()


def _suffix(name: str) -> str:
    match = re.search(r"\.[A-Za-z0-9]+$", name)
    return match.group() if match else ""


def _reply_to(params: dict[str, Any]) -> int | None:
    if "reply_parameters" in params:
        return int(json.loads(params["reply_parameters"])["message_id"])
    if "reply_to_message_id" in params:
        return int(params["reply_to_message_id"])
    return None


def _auto_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command and mention entities Telegram's servers add to a user's text."""
    entities = []
    for match in re.finditer(r"(?<![\w/@])(/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?|@[A-Za-z0-9_]{5,32})", text):
        kind = "mention" if match.group().startswith("@") else "bot_command"
        entities.append({"type": kind, "offset": _utf16(text[: match.start()]), "length": _utf16(match.group())})
    return entities
