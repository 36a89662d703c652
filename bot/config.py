"""Settings of the front ends, read from the environment (prefix ``QUOTEBOT_``) and a ``.env`` file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

import platformdirs
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = [
    "DEFAULT_FETCH_THREADS",
    "ConfigError",
    "LibraryLimits",
    "Settings",
    "default_library_path",
    "load_settings",
    "with_setting_names",
]

# @BotFather hands out "<bot id>:<35 characters>"; we accept a little slack on the secret part's length.
_TOKEN_PATTERN = re.compile(r"\d{5,20}:[A-Za-z0-9_-]{30,50}")
DEFAULT_FETCH_THREADS = 3


class LibraryLimits(TypedDict):
    """The engine's limits from the settings: keyword arguments of `Library.open`."""

    max_article_characters: int
    max_quote_characters: int
    part_characters: int
    max_file_bytes: int


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line and never contains a secret."""


def default_library_path() -> Path:
    """Where the library lives when ``QUOTEBOT_LIBRARY`` is not set."""
    return platformdirs.user_data_path("quotebot") / "library"


class Settings(BaseSettings):
    """Everything the CLI and the Telegram bot read from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="QUOTEBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    telegram_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    # Checked by Telegram on every webhook request; a random one is made per run when unset.
    telegram_webhook_secret: SecretStr | None = None
    # Telegram's broadcast limit is about 30 messages a second; paid broadcasts raise it to 1,000.
    telegram_max_rate: float = Field(default=30.0, gt=0)
    telegram_concurrent_updates: int = Field(default=8, ge=1, le=256)
    admins: Annotated[frozenset[int], NoDecode] = frozenset()
    # Who may ask, besides the admins: these users anywhere, anyone in these chats, or everyone when public.
    users: Annotated[frozenset[int], NoDecode] = frozenset()
    chats: Annotated[frozenset[int], NoDecode] = frozenset()
    public: bool = False
    # Host names /add may fetch although they resolve to a loopback, private or other non-public address.
    allowed_hosts: Annotated[frozenset[str], NoDecode] = frozenset()
    # The most one /add URL or upload may download, and the seconds one URL fetch may take in all.
    max_download_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    fetch_deadline: float = Field(default=30.0, gt=0)
    # Fair share: one user's questions waiting for an answer at once, and asked in any 60 seconds.
    questions_in_flight: int = Field(default=2, ge=1)
    questions_per_minute: int = Field(default=20, ge=1)
    # Threads asking the engine at once; each ask is CPU work, so about the machine's cores.
    engine_workers: int = Field(default=2, ge=1, le=64)
    # Answers kept for their buttons, in all and per user (past a user's share, their oldest go first).
    stored_answers: int = Field(default=10_000, ge=1)
    stored_answers_per_user: int = Field(default=500, ge=1)
    # A folder, or a postgresql:// URL (a str: a Path would fold its '//').
    library: str = Field(default_factory=lambda: str(default_library_path()))
    # Threads fetching /add URLs, apart from the engine's: a hung server holds only one of them.
    fetch_threads: int = Field(default=DEFAULT_FETCH_THREADS, ge=1, le=64)
    # Limits of the engine (arguments of Library.open), the same for the CLI, the REPL and the bot; the defaults
    # are the engine's own (tests/test_config.py checks that they agree).
    max_article_characters: int = Field(default=50_000_000, ge=1)
    max_quote_characters: int = Field(default=600, ge=40)
    article_part_characters: int = Field(default=1_000_000, ge=1000)
    max_file_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    # The engine's models, passed to it as arguments (index/ reads no environment variable): where the embedder
    # runs (--device wins), torch instead of ONNX Runtime on a CPU, where the ONNX export is kept (None: the
    # user cache folder), and "bundled" for the two-stage scoring with the bundled reranker.
    device: str = "auto"
    encoder: Literal["auto", "torch"] = "auto"
    model_cache: Path | None = None
    reranker: Literal["none", "bundled"] = "none"

    @field_validator("device", "encoder", "reranker", mode="before")
    @classmethod
    def _parse_name(cls, value: Any, info: ValidationInfo) -> Any:
        """Names as people type them: spaces around, any case (a device is checked, as typed, by the engine); an
        empty value is the default."""
        if not isinstance(value, str):
            return value
        text = value.strip() if info.field_name == "device" else value.strip().lower()
        return text or cls.model_fields[str(info.field_name)].default

    @field_validator("admins", "users", "chats", "allowed_hosts", mode="before")
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        """Accept "1,2", "1 2" or a JSON list, as people write them in a .env file."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item for item in re.split(r"[,\s]+", text) if item]

    def telegram_token_value(self) -> str:
        """The bot token, checked for @BotFather's format; raises ConfigError without echoing it."""
        if self.telegram_token is None or not self.telegram_token.get_secret_value().strip():
            raise ConfigError(
                "QUOTEBOT_TELEGRAM_TOKEN is not set; put the token @BotFather gave you in the environment "
                "or in a .env file."
            )
        token = self.telegram_token.get_secret_value().strip()
        if not _TOKEN_PATTERN.fullmatch(token):
            raise ConfigError(
                f"QUOTEBOT_TELEGRAM_TOKEN is malformed ({len(token)} characters); expected the form "
                "123456789:AAE... that @BotFather gives."
            )
        return token

    def is_admin(self, user_id: int | None) -> bool:
        """Whether this Telegram user may add and remove articles."""
        return user_id is not None and user_id in self.admins

    def may_ask(self, user_id: int | None, chat_id: int | None) -> bool:
        """Whether this user, writing in this chat, may ask questions and use the answers' buttons."""
        return (
            self.public
            or self.is_admin(user_id)
            or (user_id is not None and user_id in self.users)
            or (chat_id is not None and chat_id in self.chats)
        )

    def library_limits(self) -> LibraryLimits:
        """The engine's limits, as keyword arguments of `Library.open`."""
        return {
            "max_article_characters": self.max_article_characters,
            "max_quote_characters": self.max_quote_characters,
            "part_characters": self.article_part_characters,
            "max_file_bytes": self.max_file_bytes,
        }

    @property
    def admins_only(self) -> bool:
        """True when nobody but the admins may ask: no users or chats listed and the bot is not public."""
        return not (self.users or self.chats or self.public)


# The engine names its limits by their `Library.open` arguments; people set them by these variables.
_LIMIT_SETTINGS = {
    "max_article_characters": "QUOTEBOT_MAX_ARTICLE_CHARACTERS",
    "max_file_bytes": "QUOTEBOT_MAX_FILE_BYTES",
    "max_quote_characters": "QUOTEBOT_MAX_QUOTE_CHARACTERS",
    "part_characters": "QUOTEBOT_ARTICLE_PART_CHARACTERS",
}


def with_setting_names(message: str) -> str:
    """An engine message with each limit named by the setting that changes it: "(max_file_bytes)" becomes
    "(QUOTEBOT_MAX_FILE_BYTES)"."""
    for argument, variable in _LIMIT_SETTINGS.items():
        message = message.replace(f"({argument})", f"({variable})")
    return message


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's multi-line report into one ConfigError line."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = "_".join(str(part) for part in first["loc"][:1]).upper()
        name = f"QUOTEBOT_{field}" if field else "a setting"
        raise ConfigError(f"{name} is invalid: {first['msg']}.") from None
