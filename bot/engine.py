"""The engine's models as the settings ask for them: the one place the front ends turn `Settings` into the
embedder and scoring that `Library.open` and `evaluate_squad` take (the engine reads no environment itself)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from index import Embedder, Scoring

__all__ = ["OFFLINE_ENVIRONMENT", "embedder_for", "scoring_for"]

# Hugging Face libraries read these themselves. The engine already loads every model with local_files_only, so
# they are a second lock on the same door, for any code path of theirs that would still look at a hub.
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def embedder_for(
    settings: Settings, *, device: str | None = None, preparing: Callable[[str, int, int], None] | None = None
) -> Embedder:
    """The bundled model on `device` (a --device flag), else the settings' QUOTEBOT_DEVICE, with their encoder
    and model cache; a device this machine lacks raises DeviceUnavailable before anything loads."""
    from index import default_embedder

    return default_embedder(
        device or settings.device, encoder=settings.encoder, model_cache=settings.model_cache, preparing=preparing
    )


def scoring_for(settings: Settings) -> Scoring | None:
    """The two-stage scoring for QUOTEBOT_RERANKER=bundled; None (the library's shipped default) otherwise."""
    from index import Scoring

    return Scoring.reranked() if settings.reranker == "bundled" else None
