from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import CORPUS

from index.articles import count_inputs, documents_from_bytes, read_sources
from index.embedding import HashingEmbedder
from index.errors import SourceError
from index.library import Library


def test_text_file_keeps_its_exact_text_and_takes_its_title_from_the_name(tmp_path: Path) -> None:
    path = tmp_path / "Notes_on-the_Rhine.txt"
    path.write_bytes(b"Line one.\r\n\r\nLine two.\r\n")
    [document] = read_sources([str(path)])
    assert document.text == "Line one.\r\n\r\nLine two.\r\n"
    assert document.title == "Notes on the Rhine"
    assert document.source == str(path.resolve())


def test_markdown_title_is_its_first_heading() -> None:
    [document] = read_sources([str(CORPUS / "lighthouse.md")])
    assert document.title == "The Lighthouse of Alexandria"
    assert "Citadel of Qaitbay" in document.text


def test_html_main_text_and_metadata_without_boilerplate() -> None:
    [document] = read_sources([str(CORPUS / "coffee.html")])
    assert document.title == "How coffee reached Europe"
    assert document.date == "2021-03-04"
    assert "The first coffeehouse in England opened in Oxford in 1650." in document.text
    assert "news & gossip" in document.text
    assert "Cookie settings" not in document.text and "Subscribe now" not in document.text


def test_broken_html_is_extracted_as_well_as_it_can_be() -> None:
    [document] = read_sources([str(CORPUS / "broken.html")])
    assert "Mount Vesuvius erupted in the year 79" in document.text
    assert "<p>" not in document.text


def test_jsonl_records_keep_title_url_date() -> None:
    documents = list(read_sources([str(CORPUS / "records.jsonl")]))
    assert [document.title for document in documents] == ["Penguins of Antarctica", "The Rhine"]
    assert documents[0].url == documents[0].source == "https://example.org/penguins"
    assert documents[0].date == "2020-01-02"
    assert documents[1].source.endswith("records.jsonl#2") and documents[1].url is None


def test_json_array(tmp_path: Path) -> None:
    path = tmp_path / "articles.json"
    path.write_text('[{"text": "First."}, {"text": "Second.", "title": "Two"}]', encoding="utf-8")
    assert [document.text for document in read_sources([str(path)])] == ["First.", "Second."]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_other_encodings_are_decoded(tmp_path: Path, encoding: str) -> None:
    text = "Le café coûte 2 € à Zürich, déjà « très » cher. " * 5 if encoding == "cp1252" else "Le café à Zürich. " * 5
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    [document] = read_sources([str(path)])
    assert document.text == text


def test_folders_are_read_recursively_skipping_hidden_and_unknown_files(corpus_copy: Path) -> None:
    (corpus_copy / "deeper" / "still").mkdir(parents=True)
    (corpus_copy / "deeper" / "still" / "note.txt").write_text("A nested note.", encoding="utf-8")
    (corpus_copy / ".hidden").mkdir()
    (corpus_copy / ".hidden" / "secret.txt").write_text("Hidden.", encoding="utf-8")
    (corpus_copy / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    sources = {Path(document.source.split("#")[0]).name for document in read_sources([str(corpus_copy)])}
    assert "note.txt" in sources and "secret.txt" not in sources and "image.png" not in sources
    assert {"hard_cases.txt", "lighthouse.md", "coffee.html", "broken.html"} <= sources


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("photo.png", b"\x89PNG", "not a supported kind"),
        ("empty.txt", b"  \n\n ", "holds no text"),
        ("bad.jsonl", b'{"text": "ok"}\n{not json}\n', "not valid JSON"),
        ("notext.json", b'[{"title": "no text"}]', 'has no "text"'),
    ],
)
def test_bad_files_get_one_line_errors(name: str, data: bytes, expected: str) -> None:
    with pytest.raises(SourceError, match=expected) as raised:
        documents_from_bytes(data, name=name, source=name)
    assert "\n" not in str(raised.value)


def test_missing_path_and_error_collection(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        list(read_sources([str(tmp_path / "nope.txt")]))
    good = tmp_path / "good.txt"
    good.write_text("Good text.", encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02")
    errors: list[SourceError] = []
    documents = list(read_sources([str(bad), str(tmp_path / "nope.txt"), str(good)], errors=errors))
    assert [document.text for document in documents] == ["Good text."]
    assert len(errors) == 2


def test_urls_are_fetched_and_extracted(web_server: str) -> None:
    [page] = read_sources([f"{web_server}/story.html"])
    assert page.title == "How coffee reached Europe"
    assert page.source == page.url == f"{web_server}/story.html"
    assert "Coffee arrived in Venice in 1615" in page.text
    [plain] = read_sources([f"{web_server}/plain"])
    assert plain.text == "Plain text served over HTTP."


def test_unreachable_and_failing_urls_are_one_line_errors(web_server: str) -> None:
    with pytest.raises(SourceError, match="HTTP 404"):
        list(read_sources([f"{web_server}/gone"]))
    with pytest.raises(SourceError, match="cannot fetch"):
        list(read_sources(["http://127.0.0.1:9/never"]))


def test_deep_json_is_a_one_line_error_and_the_rest_of_the_folder_is_read(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (tmp_path / "good.txt").write_text("Good text.", encoding="utf-8")
    errors: list[SourceError] = []
    documents = list(read_sources([str(tmp_path)], errors=errors))
    assert [document.text for document in documents] == ["Good text."]
    assert len(errors) == 1 and "nests JSON arrays or objects too deeply" in str(errors[0])
    assert "\n" not in str(errors[0])


def test_a_bad_line_of_json_lines_is_refused_alone(tmp_path: Path) -> None:
    lines = ['{"text": "First."}', "[" * 100_000, "{not json}", '{"title": "no text"}', '{"text": "Last."}']
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    errors: list[SourceError] = []
    documents = list(read_sources([str(path)], errors=errors))
    assert [document.text for document in documents] == ["First.", "Last."]
    assert [str(error).split(" of ")[0] for error in errors] == ["line 2", "line 3", "line 4"]
    with pytest.raises(SourceError, match=re.escape("line 2 of 'records.jsonl' nests JSON")):
        list(read_sources([str(path)]))


def test_an_undecodable_file_name_is_added_with_its_bytes_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    # A name that is not UTF-8 (Latin-1 or a broken copy); Python holds its bytes as lone surrogates.
    (folder / os.fsdecode(b"\xff\xfe.txt")).write_bytes(b"The tower was repaired.")
    (folder / "good.txt").write_text("Good text.", encoding="utf-8")
    errors: list[SourceError] = []
    with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
        report = library.add(read_sources([str(folder)], errors=errors), errors=errors)
        assert errors == []
        assert len(report.added) == 2
        sources = sorted(article.source for article in library.articles())
    assert sources == sorted([str(folder.resolve() / "good.txt"), str(folder.resolve()) + "/\\xff\\xfe.txt"])


def test_a_link_out_of_a_folder_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("QUOTEBOT_TELEGRAM_TOKEN=123:abc", encoding="utf-8")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "good.txt").write_text("Good text.", encoding="utf-8")
    (folder / "inside.txt").symlink_to(folder / "good.txt")
    (folder / "leak.txt").symlink_to(secret)
    errors: list[SourceError] = []
    documents = list(read_sources([str(folder)], errors=errors))
    assert [document.text for document in documents] == ["Good text.", "Good text."]
    assert len(errors) == 1
    assert "leak.txt" in str(errors[0]) and "outside" in str(errors[0]) and "\n" not in str(errors[0])


def test_lone_surrogates_in_any_field_are_stored_replaced_and_the_batch_goes_on(tmp_path: Path) -> None:
    records = [
        '{"text": "Bad title here.", "title": "T\\ud800"}',
        '{"text": "Bad url here.", "url": "https://example.org/\\udfff"}',
        '{"text": "Bad date here.", "date": "2024\\ud83d"}',
        '{"text": "Bad text \\udc00 here."}',
        '{"text": "Good text here."}',
    ]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(records), encoding="utf-8")
    with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
        report = library.add(read_sources([str(path)]))
        assert len(report.added) == 5
        articles = {article.id: library.article(article.id) for article in library.articles()}
    stored = sorted((article.text, article.title, article.url, article.date) for article in articles.values())
    assert ("Bad date here.", "Bad date here.", None, "2024?") in stored
    assert ("Bad text ? here.", "Bad text ? here.", None, None) in stored
    assert ("Bad title here.", "T?", None, None) in stored
    assert ("Bad url here.", "Bad url here.", "https://example.org/?", None) in stored


def test_count_inputs_is_how_many_inputs_read_sources_finishes(tmp_path: Path) -> None:
    """The add progress bar's total: one per file of a folder (hidden ones left out), path or URL."""
    folder = tmp_path / "notes"
    (folder / "deeper").mkdir(parents=True)
    (folder / "a.txt").write_text("The ferry to Brill runs twice a day.", encoding="utf-8")
    (folder / "deeper" / "b.md").write_text("The harbour was dredged in 1911.", encoding="utf-8")
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / ".hidden.txt").write_text("Never read.", encoding="utf-8")
    single = tmp_path / "single.txt"
    single.write_text("The lighthouse was built in 1870.", encoding="utf-8")
    inputs = [str(folder), str(single), str(tmp_path / "missing.txt")]
    finished: list[int] = []
    errors: list[SourceError] = []
    documents = list(read_sources(inputs, errors=errors, finished=lambda: finished.append(1)))
    assert count_inputs(inputs) == 5
    assert len(finished) == 5
    assert sorted(document.text for document in documents) == [
        "The ferry to Brill runs twice a day.",
        "The harbour was dredged in 1911.",
        "The lighthouse was built in 1870.",
    ]
    assert len(errors) == 2  # the photo (unsupported) and the missing file
