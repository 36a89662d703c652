"""The interactive loop: questions in, quotes out, with a few slash commands.

prompt_toolkit gives line editing and history kept across sessions; rich draws the answers. When standard
input is not a terminal (a pipe, a test), lines are read plainly, so the same loop serves scripts.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bot.config import with_setting_names
from bot.filters import FILTER_HELP, split_filters
from bot.formatting import answer_to_rich, explanation_to_text
from bot.reports import add_summary
from index import Answer, Conversation, Library, QuotebotError, SourceError, UnsupportedSource, Where

__all__ = ["HELP", "Session", "run_repl"]

logger = logging.getLogger(__name__)

PAGE = 3
# One question's quotes are fetched once and paged through with /more.
FETCHED = 15
# /sources shows this many articles at a time; /show this many characters of an article's text.
SOURCES_PAGE = 10
SHOWN_CHARACTERS = 3000
# Typed alone these words are commands: as questions they name nothing and got a random quote.
BARE_COMMANDS = {"quit": "/quit", "exit": "/quit", "help": "/help", "clear": "/clear"}

HELP = """\
Type a question and press Enter; quotebot answers with the exact sentences of your articles.
  /more          the next quotes for the last question
  /why           why the last answer is what it is: candidates, scores, threshold
  /new           start a new conversation (follow-ups like "When was she born?" lean on the last answer)
  /filter F...   search only some articles from now on, e.g. /filter source:wikinews since:2015;
                 /filter alone shows the filter, /filter off drops it
  /ask F... Q    ask one question with filters, e.g. /ask since:2015-01-01 Who won?
  /context [N]   the paragraph around the last answer's quote N (1, the first, by default)
  /add PATH|URL  add a file, a folder or a web page (~ works)
  /sources [P]   list the articles, ten a page (P: the page)
  /show ID       one article (the first characters of its id will do)
  /remove ID...  remove articles completely
  /clear         clear the screen
  /help          this help
  /quit          leave (Ctrl-D works too; Ctrl-C clears the line)
quit, exit, help and clear work without the slash too."""


@dataclass
class Session:
    """What one REPL remembers between lines."""

    library: Library
    console: Console
    last: Answer | None = None
    shown: int = 0
    done: bool = False
    # The turns so far (/new forgets them), the filter set by /filter, and how the last answer was asked (/why).
    conversation: Conversation = field(default_factory=Conversation)
    where: Where | None = None
    asked: tuple[str, Conversation, Where | None] | None = None

    def handle(self, line: str) -> None:
        """Act on one line; every error becomes a message and the loop goes on."""
        text = line.strip()
        if not text:
            return
        text = BARE_COMMANDS.get(text.lower(), text)
        try:
            if text.startswith("/"):
                name, _, argument = text.partition(" ")
                command = COMMANDS.get(name.lower())
                if command is None:
                    self.console.print(f"Unknown command {escape(name)}; type /help for the list.")
                    return
                command(self, argument.strip())
            else:
                self.ask(text)
        except QuotebotError as error:
            self.console.print(f"[red]error:[/red] {escape(str(error))}")
        except Exception as error:
            # The REPL outlives any one bad line; the traceback goes to the log, not the screen.
            logger.exception("the REPL could not handle %r", text[:200])
            self.console.print(f"[red]error:[/red] unexpected {type(error).__name__}: {escape(str(error))}")

    def ask(self, question: str, where: Where | None = None) -> None:
        where = where or self.where
        before = self.conversation
        # The first question loads the reader (a few seconds): the spinner says something is happening.
        with self.console.status("Looking through your articles …"):
            self.last = self.library.ask(question, k=FETCHED, conversation=before, where=where)
        self.asked = (question, before, where)
        self.conversation = before.then(self.last)
        self.shown = 0
        self.more("")

    def ask_filtered(self, argument: str) -> None:
        question, where = split_filters(argument)
        if not question:
            self.console.print(f"Ask like this: /ask since:2015-01-01 Who won? (filters: {escape(FILTER_HELP)})")
            return
        self.ask(question, where)

    def filter(self, argument: str) -> None:
        if argument.lower() in ("off", "none", "clear"):
            self.where = None
            self.console.print("No filter: every article is searched.")
            return
        if argument:
            rest, where = split_filters(argument)
            if rest or where is None:
                self.console.print(f"Not a filter: {escape(rest or argument)!r}. Filters: {escape(FILTER_HELP)}")
                return
            self.where = where
        if self.where is None:
            self.console.print(f"No filter: every article is searched. Set one with /filter {escape(FILTER_HELP)}")
        else:
            self.console.print(f"Searching only articles matching {escape(self.where.describe())} (/filter off).")

    def new(self, _: str) -> None:
        self.conversation = Conversation()
        self.console.print("A new conversation: the next question stands on its own.")

    def why(self, _: str) -> None:
        if self.asked is None:
            self.console.print("Ask a question first; /why then explains its answer.")
            return
        question, before, where = self.asked
        with self.console.status("Explaining …"):
            explanation = self.library.explain(question, k=PAGE, conversation=before, where=where)
        self.console.print(explanation_to_text(explanation), markup=False, highlight=False)

    def more(self, _: str) -> None:
        if self.last is None:
            self.console.print("Ask a question first; /more then shows its next quotes.")
            return
        if self.last.found and self.shown >= len(self.last.quotes):
            self.console.print("No more quotes for this question.")
            return
        self.console.print(answer_to_rich(self.last, first=self.shown, count=PAGE))
        self.shown += PAGE
        if self.last.found and self.shown < len(self.last.quotes):
            self.console.print("[dim](/more for the next quotes)[/dim]")
        # A blank line after every answer and page, so one answer's quotes never run into the next's.
        self.console.print()

    def add(self, argument: str) -> None:
        if not argument:
            self.console.print("Give a path or URL: /add notes.md")
            return
        errors: list[SourceError] = []
        # No shell expands "~" here, and nobody types their home folder out in full.
        source = argument if "://" in argument else str(Path(argument).expanduser())
        with self.console.status("Adding …"):
            report = self.library.add(self.library.read_sources([source], errors=errors), errors=errors)
        for error in errors:
            if not isinstance(error, UnsupportedSource):
                self.console.print(f"[red]error:[/red] {escape(with_setting_names(str(error)))}")
        summary = add_summary(report, errors)
        if summary:
            self.console.print(summary, markup=False)

    def sources(self, argument: str) -> None:
        summaries = self.library.articles()
        if not summaries:
            self.console.print("The library is empty; /add a file, folder or URL.")
            return
        pages = -(-len(summaries) // SOURCES_PAGE)
        if argument and not (argument.isdigit() and 1 <= int(argument) <= pages):
            self.console.print(f"There are {pages} page(s) of articles; /sources 1 to /sources {pages}.")
            return
        page = int(argument) if argument else 1
        first = (page - 1) * SOURCES_PAGE
        table = Table("id", "title", "chunks")
        for summary in summaries[first : first + SOURCES_PAGE]:
            table.add_row(summary.id, escape(summary.title), str(summary.chunks))
        self.console.print(table)
        after = f"; /sources {page + 1} for the next" if page < pages else ""
        self.console.print(f"[dim]Page {page} of {pages} ({len(summaries)} articles){after}.[/dim]")

    def show(self, argument: str) -> None:
        if not argument:
            self.console.print("Give an id: /show 2bff (the ids are in /sources).")
            return
        article = self.library.article(argument)
        self.console.print(Text(article.title, style="bold"))
        details = [article.source, article.date or "", f"id {article.id}"]
        self.console.print(Text(" · ".join(detail for detail in details if detail), style="dim"))
        self.console.print()
        # A prefix of the stored text is still verbatim; a whole book would scroll the session away.
        self.console.print(Text(article.text[:SHOWN_CHARACTERS]))
        if len(article.text) > SHOWN_CHARACTERS:
            rest = len(article.text) - SHOWN_CHARACTERS
            self.console.print(f"[dim](… {rest:,} more characters; `quotebot show {article.id}` prints it all)[/dim]")

    def remove(self, argument: str) -> None:
        article_ids = argument.split()
        if not article_ids:
            self.console.print("Give one or more ids: /remove 2bff (the ids are in /sources).")
            return
        with self.console.status("Removing …"):
            removed = self.library.remove(article_ids)
        self.console.print(f"Removed {len(removed)} article(s): {', '.join(removed)}.")
        if self.last is not None and any(quote.article_id in removed for quote in self.last.quotes):
            self.last = None  # its quotes point into text that is gone

    def context(self, argument: str) -> None:
        if self.last is None or not self.last.found or not self.last.quotes:
            self.console.print("Ask a question first; /context then shows the paragraph around its quote.")
            return
        count = len(self.last.quotes)
        if argument and not (argument.isdigit() and 1 <= int(argument) <= count):
            self.console.print(f"The last answer has {count} quote(s); /context 1 to /context {count}.")
            return
        quote = self.last.quotes[int(argument or 1) - 1]
        around = self.library.context(quote)
        body = Text(around.text)
        body.stylize("underline", quote.start - around.start, quote.end - around.start)
        if quote.answer is not None:
            body.stylize("bold reverse", quote.answer.start - around.start, quote.answer.end - around.start)
        self.console.print(body)
        self.console.print(Text(f"  — {quote.title.strip() or 'untitled article'} ({quote.url or quote.source})"))
        self.console.print()

    def clear(self, _: str) -> None:
        self.console.clear()

    def help(self, _: str) -> None:
        self.console.print(HELP, markup=False)

    def quit(self, _: str) -> None:
        self.done = True


COMMANDS: dict[str, Callable[[Session, str], None]] = {
    "/more": Session.more,
    "/why": Session.why,
    "/new": Session.new,
    "/filter": Session.filter,
    "/ask": Session.ask_filtered,
    "/add": Session.add,
    "/sources": Session.sources,
    "/show": Session.show,
    "/remove": Session.remove,
    "/context": Session.context,
    "/clear": Session.clear,
    "/help": Session.help,
    "/quit": Session.quit,
    "/exit": Session.quit,
}


def _terminal_lines(history: Path) -> Iterator[str | None]:
    """Lines typed at a prompt; None for Ctrl-C (clear the line), stops at Ctrl-D."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.history import FileHistory

    history.parent.mkdir(parents=True, exist_ok=True)
    prompt: PromptSession[str] = PromptSession(history=FileHistory(str(history)), auto_suggest=AutoSuggestFromHistory())
    while True:
        try:
            yield prompt.prompt("quotebot> ")
        except KeyboardInterrupt:
            yield None
        except EOFError:
            return


def _piped_lines() -> Iterator[str | None]:
    yield from sys.stdin


def run_repl(library: Library, *, console: Console | None = None, history: Path | None = None) -> None:
    """Run the loop until /quit or end of input."""
    import platformdirs

    console = console or Console(highlight=False, soft_wrap=not sys.stdout.isatty())
    session = Session(library, console)
    interactive = sys.stdin.isatty() and console.is_terminal
    if interactive:
        console.print(f"quotebot: {len(library.articles())} article(s) in {library.path}. /help for commands.")
        lines = _terminal_lines(history or platformdirs.user_data_path("quotebot") / "history")
    else:
        lines = _piped_lines()
    for line in lines:
        if line is not None:
            try:
                session.handle(line)
            except KeyboardInterrupt:
                # Ctrl-C while an answer is being worked out cancels that answer, not the session.
                console.print("(cancelled)")
        if session.done:
            break
