"""`quotebot`: add articles, ask them questions, and run the REPL or the Telegram bot.

Engine errors arrive here typed and leave as one line on stderr with a non-zero exit code; no traceback
reaches a user (set QUOTEBOT_DEBUG=1 to see one).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer
from rich.console import Console

from bot.terminal import HelpCommand, HelpGroup, ModelPreparation

if TYPE_CHECKING:
    from index import Library

__all__ = ["app", "main", "open_library", "seeds_path"]


app = typer.Typer(
    name="quotebot",
    cls=HelpGroup,
    help=(
        "Answer questions about your articles by quoting their exact sentences.\n\n"
        'Start with:  quotebot ask "Which country hasn\'t approved Sweden?"  (the first run indexes the bundled '
        "demo articles in your user data folder), then add your own with  quotebot add FILE_OR_FOLDER_OR_URL.\n\n"
        "--library and --device go before or after the command's name; every command takes --help."
    ),
    epilog=(
        "[bold]Examples[/bold] (one per command; `quotebot COMMAND --help` says more)\n\n"
        '  quotebot ask "When did coffee reach Venice?" -k 5\n\n'
        "  quotebot add ~/saved-pages notes.md https://example.org/story.html\n\n"
        "  quotebot sources --stats\n\n"
        "  quotebot show 2bff   (a unique start of an id will do)\n\n"
        "  quotebot remove 2bff0110c089\n\n"
        "  quotebot repl\n\n"
        "  QUOTEBOT_TELEGRAM_TOKEN=... quotebot telegram\n\n"
        "  quotebot eval ../shared/data/squad-v2.0-dev.json --split test --limit 1500 -l /tmp/squad-library\n\n"
        "  quotebot bench --chunks 100 --chunks 10000\n\n"
        '  quotebot -l ~/work-library ask --device cpu "Who met Viktor Orban?"   (options on either side)'
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
command = functools.partial(app.command, cls=HelpCommand)

output = Console(highlight=False, soft_wrap=True)
messages = Console(stderr=True, highlight=False, soft_wrap=True)


def _location(value: str) -> str | Path:
    """A library named on the command line: a database URL as it is, a folder as a path."""
    from index import is_database_url

    return value if is_database_url(value) else Path(value).expanduser()


def seeds_path() -> Path:
    """The bundled demo articles: `seeds/` beside the packages (QUOTEBOT_SEEDS overrides)."""
    configured = os.environ.get("QUOTEBOT_SEEDS")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "seeds"


LibraryOption = Annotated[
    str | None,
    typer.Option(
        "--library",
        "-l",
        envvar="QUOTEBOT_LIBRARY",
        metavar="DIR|URL",
        help="Library folder, or a PostgreSQL database (postgresql://user@host/db); it must exist, except for "
        "`add`. Default: your user data folder, made with the demo articles on first use (see `quotebot sources "
        "--stats`).",
        show_default=False,
    ),
]
DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        metavar="DEVICE",
        help="Where the model runs: auto (a GPU when there is one), cpu, cuda, cuda:1, mps. Default: "
        "QUOTEBOT_DEVICE, else auto.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text (errors too).")]


# Options given before the command's name (`quotebot --library DIR ask ...`); the command's own win.
_root_options: dict[str, Any] = {"library": None, "device": None}


@app.callback()
def _root(library: LibraryOption = None, device: DeviceOption = None) -> None:
    _root_options["library"] = library
    _root_options["device"] = device


def open_library(
    path: str | Path | None,
    *,
    seed: bool,
    device: str | None = None,
    create: bool | None = None,
    explicit: bool | None = None,
    model: bool = True,
) -> Library:
    """Open the library. The default one (no --library, no QUOTEBOT_LIBRARY) is created on first use, with the
    bundled seeds when `seed`; a folder named explicitly must hold a library already unless `create` (add).
    With `model`, the one-time model export happens here, with its progress shown, rather than mid-command."""
    from bot.config import default_library_path, load_settings
    from bot.engine import embedder_for, scoring_for
    from index import Library, is_database_url

    chosen = path or _root_options["library"]
    explicit = chosen is not None if explicit is None else explicit
    folder: str | Path = (
        chosen if is_database_url(chosen or "") else Path(chosen or default_library_path()).expanduser()
    )
    create = (not explicit) if create is None else create
    settings = load_settings()
    embedder = embedder_for(settings, device=device or _root_options["device"], preparing=ModelPreparation(messages))
    limits = settings.library_limits()
    scoring = scoring_for(settings)
    if not create and not Library.exists(folder):
        return Library.open(folder, embedder=embedder, scoring=scoring, create=False, **limits)  # LibraryNotFound
    new = isinstance(folder, Path) and not Library.exists(folder) and (not folder.exists() or not any(folder.iterdir()))
    seeds = seeds_path() if seed and not explicit else None
    if model or (new and seeds is not None):
        prepare = getattr(embedder, "prepare", None)
        if prepare is not None:
            prepare()
    if new:
        if seeds is not None and seeds.exists():
            messages.print(f"Creating a new library in {folder} with the bundled articles from {seeds} …")
        else:
            messages.print(f"Creating a new, empty library in {folder}.")
    return Library.open(folder, seeds=seeds, embedder=embedder, scoring=scoring, **limits)


@command()
def add(
    sources: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH_OR_URL...",
            help="Files (.txt .md .html .htm .json .jsonl), folders (searched recursively) or http(s) URLs.",
            show_default=False,
        ),
    ],
    library: LibraryOption = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
    sync: Annotated[
        bool,
        typer.Option(
            "--sync",
            help="Make the library's articles from each FOLDER match it: new and changed files added, deleted ones "
            "removed.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --sync: print what it would do, change nothing.")
    ] = False,
) -> None:
    """Add articles, with a progress bar; a new --library folder is created (empty) for them.

    The same text again changes nothing; changed text from the same source replaces it. Each input that cannot
    be read is one line saying why; the rest are still added, and the exit code is 1.

    Examples:  quotebot add ~/saved-pages notes.md   ·   quotebot add https://example.org/story.html
    ·   quotebot add articles.jsonl  (one JSON object a line with "text" and optional "title", "url", "date")
    ·   quotebot add --sync ~/saved-pages --dry-run
    """
    if sync or dry_run:
        _sync(sources, library=library, device=device, json_output=json_output, dry_run=dry_run, sync=sync)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bot.config import with_setting_names
    from index import SourceError, count_inputs

    errors: list[SourceError] = []
    inputs = [_expanded(source) for source in sources]
    with open_library(library, seed=False, device=device, create=True) as opened:
        show_progress = not json_output and messages.is_terminal
        with Progress(
            SpinnerColumn(),
            TextColumn("Reading files"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("· {task.fields[saved]} article(s) saved"),
            TimeElapsedColumn(),
            console=messages,
            transient=True,
            disable=not show_progress,
        ) as progress:
            # The bar counts inputs (files, URLs), known once the folders are listed; a big JSON Lines file is
            # one input, so the saved articles are counted beside it.
            task = progress.add_task("add", total=count_inputs(inputs), saved=0)
            documents = opened.read_sources(inputs, errors=errors, finished=lambda: progress.advance(task, 1))
            saved = [0]

            def advance(done: int) -> None:
                saved[0] += done
                progress.update(task, saved=saved[0])

            try:
                report = opened.add(documents, errors=errors, progress=advance)
            except KeyboardInterrupt:
                # `add` commits batch by batch: what was written before Ctrl-C stays, and the user should know how much.
                progress.stop()
                messages.print(f"Interrupted; the {saved[0]} article(s) saved before this point are kept.")
                raise typer.Exit(130) from None
    from bot.reports import add_failed, add_summary, skipped_items
    from index import UnsupportedSource

    for error in errors:
        # An unsupported file in a folder is named in the summary; it needs no line of its own.
        if not isinstance(error, UnsupportedSource):
            messages.print(f"[red]error:[/red] {_markup_escape(with_setting_names(str(error)))}")
    if json_output:
        payload = {
            **report.model_dump(),
            "errors": [with_setting_names(str(error)) for error in errors],
            "skipped": skipped_items(errors),
        }
        print(json.dumps(payload, indent=2))
    elif summary := add_summary(report, errors):
        output.print(summary, markup=False)
    if add_failed(report, errors):
        raise typer.Exit(1)


def _sync(
    folders: list[str], *, library: str | None, device: str | None, json_output: bool, dry_run: bool, sync: bool
) -> None:
    """`add --sync FOLDER...`: each folder's articles made to match it, or with --dry-run only the plan."""
    from bot.config import with_setting_names
    from bot.reports import sync_summary
    from index import SourceError, UnsupportedSource, sync_folder

    if not sync:
        raise typer.BadParameter(
            "--dry-run goes with --sync: quotebot add --sync FOLDER --dry-run", param_hint="--dry-run"
        )
    errors: list[SourceError] = []
    # Like add, a sync may create the library it names; a dry run changes nothing, so it never does.
    with open_library(library, seed=False, device=device, create=not dry_run) as opened:
        reports = [sync_folder(opened, Path(folder), dry_run=dry_run, errors=errors) for folder in folders]
    for error in errors:
        if not isinstance(error, UnsupportedSource):
            messages.print(f"[red]error:[/red] {_markup_escape(with_setting_names(str(error)))}")
    if json_output:
        payload = {
            "syncs": [report.model_dump() for report in reports],
            "errors": [with_setting_names(str(error)) for error in errors],
        }
        print(json.dumps(payload, indent=2))
    else:
        for report in reports:
            output.print(sync_summary(report, errors), markup=False)
    if any(not isinstance(error, UnsupportedSource) for error in errors):
        raise typer.Exit(1)


def _expanded(source: str) -> str:
    """A path with `~` expanded (a shell does it, but not inside quotes or in a .env file); URLs as given."""
    return source if "://" in source else str(Path(source).expanduser())


@command()
def ask(
    question: Annotated[str, typer.Argument(metavar="QUESTION", help="Your question, in quotes.", show_default=False)],
    k: Annotated[int, typer.Option("-k", "--quotes", min=1, max=50, help="How many quotes to show.")] = 3,
    library: LibraryOption = None,
    device: DeviceOption = None,
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
    """The best quote(s), best first, with the short answer marked, or "Not found in your articles."

    Examples:  quotebot ask "When did coffee reach Venice?" -k 5
    ·   quotebot ask "Who was hurt?" --source wikinews --since 2015 --until 2016-06   ·   quotebot ask "..." --explain
    """
    from bot.formatting import answer_to_rich, answer_to_text, explanation_to_text
    from index import Where

    where = Where.parse(source=source, title=title, article=article, since=since, until=until)
    with open_library(library, seed=True, device=device) as opened:
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


@command()
def repl(library: LibraryOption = None, device: DeviceOption = None) -> None:
    """An interactive session: type questions; /more, /context, /add PATH, /sources, /show ID, /remove ID, /help.

    Example:  quotebot repl   (then type: Which country hasn't approved Sweden?)
    """
    from bot.repl import run_repl

    with open_library(library, seed=True, device=device) as opened:
        run_repl(opened)


@command()
def sources(
    library: LibraryOption = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
    stats: Annotated[bool, typer.Option("--stats", help="Show the library's size, index type and place.")] = False,
) -> None:
    """List the articles: id, title, date, chunks, source; --stats adds sizes, index type and the folder.

    Example:  quotebot sources --stats
    """
    from rich.table import Table

    with open_library(library, seed=True, device=device, model=False) as opened:
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


@command()
def show(
    article_id: Annotated[
        str, typer.Argument(metavar="ID", help="An id from `quotebot sources`, or its first few characters.")
    ],
    library: LibraryOption = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """One article with its stored text.

    Example:  quotebot show 2bff   (any unique start of an id will do)
    """
    with open_library(library, seed=True, device=device, model=False) as opened:
        article = opened.article(article_id)
    if json_output:
        print(article.model_dump_json(indent=2))
        return
    output.print(f"[bold]{_markup_escape(article.title)}[/bold]")
    details = [article.source, article.date or "", f"id {article.id}"]
    output.print(_markup_escape(" · ".join(detail for detail in details if detail)), style="dim")
    output.print()
    output.print(article.text, markup=False)


@command()
def remove(
    article_ids: Annotated[
        list[str], typer.Argument(metavar="ID...", help="Ids from `quotebot sources`, or their first characters.")
    ],
    library: LibraryOption = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove articles completely (text, chunks, vectors); an unknown id removes nothing.

    Example:  quotebot remove 2bff0110c089
    """
    with open_library(library, seed=True, device=device, model=False) as opened:
        removed = opened.remove(article_ids)
    if json_output:
        print(json.dumps({"removed": removed}))
    else:
        output.print(f"Removed {len(removed)} article(s): {', '.join(removed)}.")


@command()
def telegram(
    library: LibraryOption = None,
    device: DeviceOption = None,
    webhook: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Public https URL for a webhook instead of long polling.", show_default=False),
    ] = None,
    listen: Annotated[str, typer.Option(help="Address the webhook server listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the webhook server listens on.")] = 8443,
) -> None:
    """Run the Telegram bot (token in QUOTEBOT_TELEGRAM_TOKEN or .env; see the README's Telegram section).

    Example:  QUOTEBOT_TELEGRAM_TOKEN=123456789:AAE... quotebot telegram
    """
    from bot.config import load_settings
    from bot.redaction import redact_secret

    settings = load_settings()
    # A bad token is reported before the model loads or anything touches the network; a good one is
    # redacted from every log line and traceback before anything else can print it.
    redact_secret(settings.telegram_token_value())
    from bot.telegram import check_bot_api, run_telegram

    # A revoked token or an unreachable Bot API is one line on stderr before any indexing.
    check_bot_api(settings)
    chosen = library or _root_options["library"]
    # QUOTEBOT_LIBRARY in a .env file names a library as surely as the flag does.
    explicit = chosen is not None or "library" in settings.model_fields_set
    with open_library(chosen or settings.library, seed=True, device=device, explicit=explicit) as opened:
        run_telegram(settings, opened, webhook_url=webhook, listen=listen, port=port)


@command("eval")
def evaluate_command(
    dataset: Annotated[
        Path, typer.Argument(metavar="FILE", help="A SQuAD-format file (v1.1 or v2.0).", show_default=False)
    ],
    limit: Annotated[int | None, typer.Option(metavar="N", help="Ask a reproducible sample of N questions.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --limit sample.")] = 0,
    split: Annotated[
        str,
        typer.Option(
            metavar="all|train|test",
            help="all, or the half of the file's articles by sorted title: train (the first 17, which the reader "
            "learned from) or test (the rest). Report SQuAD v2.0 dev figures with --split test.",
        ),
    ] = "all",
    library: Annotated[
        str | None,
        typer.Option(
            "--library",
            "-l",
            envvar="QUOTEBOT_LIBRARY",
            metavar="DIR|URL",
            help="Keep the evaluation library here (a folder or a postgresql:// database) and reuse it next time "
            "(default: a temporary folder); it may hold only the file's articles, so your own library is never "
            "mixed in.",
            show_default=False,
        ),
    ] = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Measure answer quality on a SQuAD-format file: bm25, dense, hybrid and no-reader beside quotebot.

    Example:  quotebot eval ../shared/data/squad-v2.0-dev.json --split test --limit 1500 -l /tmp/squad-library
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from bot.config import load_settings
    from bot.engine import embedder_for, scoring_for
    from index import EvaluationSplit, evaluate_squad

    if split not in ("all", "train", "test"):
        raise typer.BadParameter(f"{split!r} is not a split; use all, train or test", param_hint="--split")
    settings = load_settings()
    embedder = embedder_for(settings, device=device or _root_options["device"], preparing=ModelPreparation(messages))
    prepare = getattr(embedder, "prepare", None)
    if prepare is not None:
        prepare()
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

        folder = library or _root_options["library"]
        report = evaluate_squad(
            dataset,
            limit=limit,
            seed=seed,
            split=cast(EvaluationSplit, split),
            library=_location(folder) if folder else None,
            embedder=embedder,
            scoring=scoring_for(settings),
            progress=advance,
        )
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


@command()
def bench(
    data: Annotated[
        Path, typer.Option(help="Folder with squad-v2.0-dev.json and wikinews/articles.jsonl.", show_default=True)
    ] = Path("../shared/data"),
    chunks: Annotated[
        list[int] | None, typer.Option("--chunks", help="Library sizes in chunks (repeat the option).")
    ] = None,
    million: Annotated[bool, typer.Option("--million", help="Also measure 1,000,000 chunks (long).")] = False,
    questions: Annotated[int, typer.Option(help="Questions asked at each size.")] = 300,
    library: Annotated[
        str | None,
        typer.Option(
            "--library",
            "-l",
            metavar="URL",
            help="Also measure each size on PostgreSQL: a postgresql:// URL of a database on a server where its "
            "user may create databases; each size gets its own database NAME_bench_SIZE there (dropped first). "
            "The local rows are always measured.",
            show_default=False,
        ),
    ] = None,
    work: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Keep the benchmark's libraries and its cache of sentence vectors here and reuse the cache next "
            "time (default: a new temporary folder).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Measure ingest, query latency, ANN recall, memory and cold start, each beside its reference.

    Example:  quotebot bench --data ../shared/data --chunks 100 --chunks 10000 --json
    Example:  quotebot bench --chunks 100000 --library postgresql://me@db.example.org/quotebot
    """
    from benchmarks.harness import format_report as format_benchmark_report
    from benchmarks.harness import run_benchmark
    from index import is_database_url

    sizes = list(chunks or [100, 10_000, 100_000])
    if million and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    if library is not None and not is_database_url(library):
        raise typer.BadParameter(
            f"{library!r} is not a postgresql:// URL; bench builds its own local libraries, and --library adds "
            "PostgreSQL ones beside them",
            param_hint="--library",
        )
    report = run_benchmark(
        sizes,
        data=data,
        json_output=json_output,
        questions=questions,
        work=work,
        database_url=library,
        seeds=seeds_path(),
        progress=lambda line: messages.print(line, markup=False),
    )
    if json_output:
        print(report.model_dump_json(indent=2))
    else:
        print(format_benchmark_report(report))


def _figure(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "—" if value is None else str(value)


def _markup_escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# Loggers whose lines a user may see: quotebot's own. Other libraries' advice (onnxruntime's "Please consider to
# run pre-processing before quantization", torch's warnings) is for their developers, not for our users.
_OWN_LOGGERS = ("index", "bot", "__main__")


def _own_lines(record: logging.LogRecord) -> bool:
    return record.name.split(".")[0] in _OWN_LOGGERS


def _configure_logging(*, telegram: bool = False) -> None:
    level = logging.DEBUG if os.environ.get("QUOTEBOT_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Python warnings become log records, so they pass through the same filter.
    logging.captureWarnings(True)
    if level > logging.DEBUG and not telegram:
        # The bot's operator reads python-telegram-bot's warnings (network trouble, conflicts) in its log.
        for handler in logging.getLogger().handlers:
            handler.addFilter(_own_lines)
    for noisy in ("httpx", "sentence_transformers", "transformers", "faiss"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # The readers' libraries log what they made of a page or a PDF ("discarding data", "empty HTML tree"); the
    # reader reports what matters as one line per source, so theirs are only for QUOTEBOT_DEBUG.
    for reader in ("trafilatura", "htmldate", "courlan", "justext", "pdfminer", "charset_normalizer", "docx"):
        logging.getLogger(reader).setLevel(level if level == logging.DEBUG else logging.CRITICAL)


def _wants_json(arguments: list[str]) -> bool:
    return "--json" in arguments[: arguments.index("--")] if "--" in arguments else "--json" in arguments


def _fail(message: str, code: int, *, kind: str, as_json: bool) -> NoReturn:
    """One line on stderr; with --json also {"error": ..., "kind": ...} on stdout, so scripts always get JSON."""
    from bot.redaction import redact

    message = redact(message)
    messages.print(f"[red]error:[/red] {_markup_escape(message)}")
    if as_json:
        print(json.dumps({"error": message, "kind": kind, "exit_code": code}, ensure_ascii=False))
    sys.exit(code)


def main() -> None:
    """Console entry point: runs the app and turns every error into one line on stderr (and JSON with --json)."""
    from bot.config import ConfigError
    from bot.engine import OFFLINE_ENVIRONMENT
    from index import InvalidFilter, InvalidQuestion, QuotebotError

    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    arguments = sys.argv[1:]
    as_json = _wants_json(arguments)
    _configure_logging(telegram="telegram" in arguments)
    debug = bool(os.environ.get("QUOTEBOT_DEBUG"))
    try:
        # Not standalone: a usage error then reaches us, to be answered as JSON when --json was asked for.
        code = app(prog_name="quotebot", standalone_mode=not as_json)
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.TyperException as error:
        _fail(error.format_message(), error.exit_code, kind=type(error).__name__, as_json=as_json)
    except typer.Abort:
        _fail("aborted", 1, kind="Abort", as_json=as_json)
    except (InvalidQuestion, InvalidFilter) as error:
        _fail(str(error), 2, kind=type(error).__name__, as_json=as_json)
    except (QuotebotError, ConfigError) as error:
        _fail(str(error), 1, kind=type(error).__name__, as_json=as_json)
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        _fail(
            f"{error.strerror or error}{where}; check the path, its permissions and free disk space",
            1,
            kind="OSError",
            as_json=as_json,
        )
    except KeyboardInterrupt:
        messages.print("Interrupted; everything added before this point is saved.")
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        _fail(
            f"unexpected {type(error).__name__}: {error}; rerun with QUOTEBOT_DEBUG=1 to see where, and report it",
            2,
            kind=type(error).__name__,
            as_json=as_json,
        )


if __name__ == "__main__":
    main()
