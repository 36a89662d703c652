"""Settings of the front ends, read from the environment (prefix ``QUOTEBOT_``) and a ``.env`` file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["ConfigError", "Settings", "default_library_path", "load_settings"]

# @BotFather hands out "<bot id>:<35 characters>"; we accept a little slack on the secret part's length.
_TOKEN_PATTERN = re.compile(r"\d{5,20}:[A-Za-z0-9_-]{30,50}")


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
    library: Path = Field(default_factory=default_library_path)

    @field_validator("admins", mode="before")
    @classmethod
    def _parse_admins(cls, value: Any) -> Any:
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


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's multi-line report into one ConfigError line."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = "_".join(str(part) for part in first["loc"][:1]).upper()
        name = f"QUOTEBOT_{field}" if field else "a setting"
        raise ConfigError(f"{name} is invalid: {first['msg']}.") from None
