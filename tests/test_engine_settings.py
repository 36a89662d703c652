"""The engine's model settings: read once by bot/config.py from QUOTEBOT_* (or .env), passed to the engine as
arguments by bot/engine.py; the engine itself gives the same defaults whatever the environment holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import open_library
from bot.config import ConfigError, Settings, load_settings
from bot.engine import embedder_for, scoring_for
from index import DeviceUnavailable, Scoring, default_embedder
from index.embedding import OnnxEmbedder, SentenceTransformerEmbedder, default_cache_folder

ENGINE_VARIABLES = ("QUOTEBOT_DEVICE", "QUOTEBOT_ENCODER", "QUOTEBOT_MODEL_CACHE", "QUOTEBOT_RERANKER")


@pytest.fixture(autouse=True)
def _no_engine_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """None of the engine's variables set, and no .env file in the working directory."""
    for variable in ENGINE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)


def test_the_defaults_are_the_engines_own() -> None:
    settings = load_settings()
    defaults = (settings.device, settings.encoder, settings.model_cache, settings.reranker)
    assert defaults == ("auto", "auto", None, "none")
    assert scoring_for(settings) is None
    embedder = embedder_for(settings, device="cpu")
    assert isinstance(embedder, OnnxEmbedder) and embedder.cache_folder == default_cache_folder()


def test_the_engine_reads_no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUOTEBOT_RERANKER", "bundled")
    monkeypatch.setenv("QUOTEBOT_ENCODER", "torch")
    monkeypatch.setenv("QUOTEBOT_MODEL_CACHE", str(tmp_path / "models"))
    monkeypatch.setenv("QUOTEBOT_DEVICE", "tpu")
    assert Scoring().reranker is None
    assert Scoring() != Scoring.reranked()
    embedder = default_embedder("cpu")
    assert isinstance(embedder, OnnxEmbedder) and embedder.cache_folder == default_cache_folder()
    # "auto", not the "tpu" above, which would raise DeviceUnavailable.
    assert isinstance(default_embedder(), OnnxEmbedder | SentenceTransformerEmbedder)


def test_each_variable_reaches_the_engine_as_an_argument(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUOTEBOT_RERANKER", " Bundled ")
    monkeypatch.setenv("QUOTEBOT_MODEL_CACHE", str(tmp_path / "models"))
    monkeypatch.setenv("QUOTEBOT_DEVICE", "cpu")
    settings = load_settings()
    assert scoring_for(settings) == Scoring.reranked()
    onnx = embedder_for(settings)
    assert isinstance(onnx, OnnxEmbedder) and onnx.cache_folder == tmp_path / "models"
    monkeypatch.setenv("QUOTEBOT_ENCODER", "TORCH")
    assert isinstance(embedder_for(load_settings()), SentenceTransformerEmbedder)


def test_a_device_flag_wins_over_the_setting_and_a_missing_device_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTEBOT_DEVICE", "tpu")
    settings = load_settings()
    assert isinstance(embedder_for(settings, device="cpu"), OnnxEmbedder)
    with pytest.raises(DeviceUnavailable, match=r"^'tpu' is not a device; use auto, cpu"):
        embedder_for(settings)


@pytest.mark.parametrize(("variable", "value"), [("QUOTEBOT_ENCODER", "tensorflow"), ("QUOTEBOT_RERANKER", "mine")])
def test_a_bad_model_setting_is_one_line_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"{variable} is invalid: Input should be ") and "\n" not in message


def test_an_empty_variable_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("QUOTEBOT_DEVICE", "QUOTEBOT_ENCODER", "QUOTEBOT_RERANKER"):
        monkeypatch.setenv(variable, " ")
    settings = load_settings()
    assert (settings.device, settings.encoder, settings.reranker) == ("auto", "auto", "none")


def test_a_dotenv_file_sets_them_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("QUOTEBOT_RERANKER=bundled\nQUOTEBOT_DEVICE=cpu\n", encoding="utf-8")
    settings = Settings()
    assert (settings.reranker, settings.device) == ("bundled", "cpu")


def test_the_cli_opens_its_library_with_the_settings_scoring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUOTEBOT_RERANKER", "bundled")
    monkeypatch.setenv("QUOTEBOT_MODEL_CACHE", str(tmp_path / "models"))
    with open_library(tmp_path / "library", seed=False, device="cpu", create=True, model=False) as library:
        assert library.scoring == Scoring.reranked()
    monkeypatch.delenv("QUOTEBOT_RERANKER")
    with open_library(tmp_path / "library", seed=False, device="cpu", model=False) as library:
        assert library.scoring == Scoring()
    # The ONNX export is made on first use, never by opening.
    assert not (tmp_path / "models").exists()
