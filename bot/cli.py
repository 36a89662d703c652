"""`quotebot`: add articles, ask them questions, and run the REPL or the Telegram bot.

Engine errors arrive here typed and leave as one line on stderr with a non-zero exit code; no traceback
reaches a user (set QUOTEBOT_DEBUG=1 to see one).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console

if TYPE_CHECKING:
    from index.library import Library

__all__ = ["app", "main", "open_library", "seeds_path"]

app = typer.Typer(
    name="quotebot",
    help=(
        "Answer questions about your articles by quoting their exact sentences.\n\n"
        'Start with:  quotebot ask "Which country hasn\'t approved Sweden?"  (the first run indexes the bundled '
        "demo articles), then add your own with  quotebot add FILE_OR_FOLDER_OR_URL."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

output = Console(highlight=False, soft_wrap=True)
messages = Console(stderr=True, highlight=False, soft_wrap=True)


def seeds_path() -> Path:
    """The bundled demo articles: `seeds/` beside the packages (QUOTEBOT_SEEDS overrides)."""
    configured = os.environ.get("QUOTEBOT_SEEDS")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "seeds"


LibraryOption = Annotated[
    Path | None,
    typer.Option(
        "--library",
        "-l",
        envvar="QUOTEBOT_LIBRARY",
        help="Library folder. Default: your user data folder (see `quotebot sources --stats`).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]


_root_library: dict[str, Path | None] = {"path": None}


@app.callback()
def _root(
    library: LibraryOption = None,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            envvar="QUOTEBOT_DEVICE",
            help="Where the model runs: auto (a CUDA GPU when there is one), cpu, cuda, cuda:1.",
            show_default=False,
        ),
    ] = None,
) -> None:
    # `quotebot --library DIR ask ...` and `quotebot ask --library DIR ...` both work.
    _root_library["path"] = library
    if device:
        # The engine reads the device from the environment when it builds its default embedder.
        os.environ["QUOTEBOT_DEVICE"] = device


def open_library(path: Path | None, *, seed: bool) -> Library:
    """Open (or create) the library; a new one gets the bundled seeds when `seed`, and says so on stderr."""
    from bot.config import default_library_path
    from index.library import Library

    folder = (path or _root_library["path"] or default_library_path()).expanduser()
    new = not Library.exists(folder) and (not folder.exists() or not any(folder.iterdir()))
    seeds = seeds_path() if seed else None
    if new:
        if seeds is not None and seeds.exists():
            messages.print(f"Creating a new library in {folder} with the bundled articles from {seeds} …")
        else:
            messages.print(f"Creating a new, empty library in {folder}.")
    return Library.open(folder, seeds=seeds)


@app.command()
def add(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Files (.txt .md .html .htm .json .jsonl), folders (searched recursively) or http(s) URLs.",
            show_default=False,
        ),
    ],
    library: LibraryOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add articles. The same text again changes nothing; changed text from the same source replaces it.

    Examples:  quotebot add notes.md reports/   ·   quotebot add https://example.org/story.html
    ·   quotebot add articles.jsonl  (one JSON object a line with "text" and optional "title", "url", "date")
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from index.articles import read_sources
    from index.errors import SourceError

    errors: list[SourceError] = []
    with open_library(library, seed=False) as opened:
        documents = read_sources(sources, errors=errors)
        show_progress = not json_output and messages.is_terminal
        with Progress(
            SpinnerColumn(),
            TextColumn("Adding articles"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=messages,
            transient=True,
            disable=not show_progress,
        ) as progress:
            task = progress.add_task("add", total=None)
            report = opened.add(documents, errors=errors, progress=lambda done: progress.advance(task, done))
    for error in errors:
        messages.print(f"[red]error:[/red] {error}")
    if json_output:
        print(json.dumps({**report.model_dump(), "errors": [str(error) for error in errors]}, indent=2))
    else:
        output.print(
            f"Added {len(report.added)}, replaced {len(report.replaced)}, unchanged {len(report.unchanged)} "
            f"article(s); {report.chunks} new chunk(s)."
        )
    if errors:
        raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in quotes.", show_default=False)],
    k: Annotated[int, typer.Option("-k", "--quotes", min=1, max=50, help="How many quotes to show.")] = 3,
    library: LibraryOption = None,
    json_output: JsonOption = False,
    source: Annotated[
        str | None, typer.Option(help="Only articles whose source holds this text (or matches this glob).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Only articles whose title holds this text.")] = None,
    article: Annotated[str | None, typer.Option(help="Only this article (an id or its unique start).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only articles dated on or after: 2015, 2015-03, 2015-03-31.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Only articles dated on or before (same forms).")] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Also say why: the candidates' scores, the threshold, why others lost.")
    ] = False,
) -> None:
    """Answer a question with the exact sentences of your articles, best first, or say it is not found.

    Examples:  quotebot ask "Which country hasn't approved Sweden?" -k 5
    ·   quotebot ask "Who was hurt?" --source wikinews --since 2015 --until 2016-06   ·   quotebot ask "..." --explain
    """
    from bot.formatting import answer_to_rich, answer_to_text, explanation_to_text
    from index import Where

    where = Where.parse(source=source, title=title, article=article, since=since, until=until)
    with open_library(library, seed=True) as opened:
        explanation = opened.explain(question, k=k, where=where) if explain else None
        answer = explanation.answer if explanation is not None else opened.ask(question, k=k, where=where)
    if json_output:
        print((explanation or answer).model_dump_json(indent=2))
        return
    if output.is_terminal:
        output.print(answer_to_rich(answer))
    else:
        print(answer_to_text(answer))
    if explanation is not None:
        print()
        print(explanation_to_text(explanation))


@app.command()
def repl(library: LibraryOption = None) -> None:
    """An interactive session: type questions; /more, /add PATH, /sources, /help, /quit."""
    from bot.repl import run_repl

    with open_library(library, seed=True) as opened:
        run_repl(opened)


@app.command()
def sources(
    library: LibraryOption = None,
    json_output: JsonOption = False,
    stats: Annotated[bool, typer.Option("--stats", help="Show the library's size, index type and place.")] = False,
) -> None:
    """List the articles in the library (id, title, date, chunks, source)."""
    from rich.table import Table

    with open_library(library, seed=False) as opened:
        summaries = opened.articles()
        statistics = opened.stats() if stats else None
    if json_output:
        payload: Any = [summary.model_dump() for summary in summaries]
        if statistics is not None:
            payload = {"stats": statistics.model_dump(), "articles": payload}
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    if statistics is not None:
        for name, value in statistics.model_dump().items():
            output.print(f"{name.replace('_', ' ')}: {value}")
        output.print()
    if not summaries:
        output.print("The library is empty. Add articles with: quotebot add FILE_OR_FOLDER_OR_URL")
        return
    table = Table("id", "title", "date", "chunks", "source", show_lines=False)
    for summary in summaries:
        table.add_row(summary.id, summary.title, summary.date or "", str(summary.chunks), summary.source)
    output.print(table)


@app.command()
def show(
    article_id: Annotated[str, typer.Argument(metavar="ID", help="An id from `quotebot sources`.")],
    library: LibraryOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print one article with its stored text."""
    with open_library(library, seed=False) as opened:
        article = opened.article(article_id)
    if json_output:
        print(article.model_dump_json(indent=2))
        return
    output.print(f"[bold]{_markup_escape(article.title)}[/bold]")
    details = [article.source, article.date or "", f"id {article.id}"]
    output.print(_markup_escape(" · ".join(detail for detail in details if detail)), style="dim")
    output.print()
    output.print(article.text, markup=False)


@app.command()
def remove(
    article_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Ids from `quotebot sources`.")],
    library: LibraryOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove articles completely: text, chunks and vectors."""
    with open_library(library, seed=False) as opened:
        removed = opened.remove(article_ids)
    if json_output:
        print(json.dumps({"removed": removed}))
    else:
        output.print(f"Removed {len(removed)} article(s).")


@app.command()
def telegram(
    library: LibraryOption = None,
    webhook: Annotated[
        str | None, typer.Option(help="Public https URL for a webhook instead of long polling.", show_default=False)
    ] = None,
    listen: Annotated[str, typer.Option(help="Address the webhook server listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the webhook server listens on.")] = 8443,
) -> None:
    """Run the Telegram bot (token in QUOTEBOT_TELEGRAM_TOKEN or .env; see the README's Telegram section)."""
    from bot.config import load_settings
    from bot.redaction import redact_secret

    settings = load_settings()
    # A bad token is reported before the model loads or anything touches the network; a good one is
    # redacted from every log line and traceback before anything else can print it.
    redact_secret(settings.telegram_token_value())
    from bot.telegram import check_bot_api, run_telegram

    # A revoked token or an unreachable Bot API is one line on stderr before any indexing.
    check_bot_api(settings)
    folder = library or settings.library
    with open_library(folder, seed=True) as opened:
        run_telegram(settings, opened, webhook_url=webhook, listen=listen, port=port)


@app.command("eval")
def evaluate_command(
    dataset: Annotated[Path, typer.Argument(help="A SQuAD-format file (v1.1 or v2.0).", show_default=False)],
    limit: Annotated[int | None, typer.Option(help="Ask a reproducible sample of N questions.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --limit sample.")] = 0,
    split: Annotated[
        str,
        typer.Option(
            help="all, or the half of the file's articles by sorted title: train (the first 17, which the reader "
            "learned from) or test (the rest). Report SQuAD v2.0 dev figures with --split test."
        ),
    ] = "all",
    library: Annotated[
        Path | None,
        typer.Option(
            "--library",
            "-l",
            help="Keep the evaluation library here and reuse it next time (default: a temporary one).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Measure answer quality on a SQuAD-format file: bm25, dense, hybrid and no-reader beside quotebot.

    Example:  quotebot eval ../shared/data/squad-v2.0-dev.json --split test --limit 1500 -l /tmp/squad-library
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from index.evaluation import Split, evaluate

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=messages,
        transient=True,
        disable=not messages.is_terminal,
    ) as progress:
        tasks: dict[str, Any] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        if split not in ("all", "train", "test"):
            raise typer.BadParameter(f"{split!r} is not a split; use all, train or test", param_hint="--split")
        report = evaluate(dataset, limit=limit, seed=seed, split=cast(Split, split), library=library, progress=advance)
    if json_output:
        print(report.model_dump_json(indent=2))
        return
    output.print(
        f"{report.dataset}: {report.questions} questions ({report.answerable} answerable, "
        f"{report.unanswerable} unanswerable)"
    )
    metrics = list(next(iter(report.systems.values())).model_dump()) if report.systems else []
    table = Table("system", *metrics)
    for name, system in report.systems.items():
        table.add_row(name, *(_figure(value) for value in system.model_dump().values()))
    output.print(table)
    if report.reader_f1_gold_sentence is not None:
        output.print(f"reader on the gold sentence: F1 {report.reader_f1_gold_sentence:.1f}")


@app.command()
def bench(
    data: Annotated[
        Path, typer.Option(help="Folder with squad-v2.0-dev.json and wikinews/articles.jsonl.", show_default=True)
    ] = Path("../shared/data"),
    chunks: Annotated[
        list[int] | None, typer.Option("--chunks", help="Library sizes in chunks (repeat the option).")
    ] = None,
    million: Annotated[bool, typer.Option("--million", help="Also measure 1,000,000 chunks (long).")] = False,
    questions: Annotated[int, typer.Option(help="Questions asked at each size.")] = 300,
    json_output: JsonOption = False,
) -> None:
    """Measure ingest, query latency, ANN recall, memory and cold start, each beside its reference.

    Example:  quotebot bench --data ../shared/data --chunks 100 --chunks 10000 --json
    """
    from index.benchmark import format_report, run_benchmark

    sizes = list(chunks or [100, 10_000, 100_000])
    if million and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    report = run_benchmark(
        sizes,
        data=data,
        json_output=json_output,
        questions=questions,
        seeds=seeds_path(),
        progress=lambda line: messages.print(line, markup=False),
    )
    if json_output:
        print(report.model_dump_json(indent=2))
    else:
        print(format_report(report))


def _figure(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "—" if value is None else str(value)


def _markup_escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _configure_logging() -> None:
    level = logging.DEBUG if os.environ.get("QUOTEBOT_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "sentence_transformers", "transformers", "faiss"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main() -> None:
    """Console entry point: runs the app and turns every error into one line on stderr."""
    from bot.config import ConfigError
    from bot.redaction import redact
    from index.errors import InvalidFilter, InvalidQuestion, QuotebotError

    _configure_logging()
    debug = bool(os.environ.get("QUOTEBOT_DEBUG"))
    try:
        app(prog_name="quotebot")
    except (InvalidQuestion, InvalidFilter) as error:
        messages.print(f"[red]error:[/red] {_markup_escape(redact(str(error)))}")
        sys.exit(2)
    except (QuotebotError, ConfigError) as error:
        messages.print(f"[red]error:[/red] {_markup_escape(redact(str(error)))}")
        sys.exit(1)
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        messages.print(
            f"[red]error:[/red] {_markup_escape(error.strerror or str(error))}{_markup_escape(where)}; "
            "check the path, its permissions and free disk space"
        )
        sys.exit(1)
    except KeyboardInterrupt:
        messages.print("Interrupted; everything added before this point is saved.")
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        messages.print(
            f"[red]error:[/red] unexpected {type(error).__name__}: {_markup_escape(redact(str(error)))}; "
            "rerun with QUOTEBOT_DEBUG=1 to see where, and report it"
        )
        sys.exit(2)
