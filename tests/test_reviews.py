"""Reading labelled reviews: the Amazon polarity reader, the CSV reader, and what the metadata says about a file."""

from __future__ import annotations

import bz2
import hashlib
from pathlib import Path

import pytest

from sentiment_export.errors import DataFormatError
from sentiment_export.data.amazon import ReviewFile, read_reviews
from training import CsvOptions, DataFormat, data_files, read_csv_reviews, read_labelled_file

AMAZON_LINES = [
    b"__label__2 Great product, works as described.\n",  # 1 ok
    b"__label__1 Broke after two days.\n",  # 2 ok
    b"just some text without a label\n",  # 3 no label
    b"__label__3 a third class\n",  # 4 unknown label
    b"__label__2 caf\xe9 in latin-1\n",  # 5 undecodable bytes
    b"\n",  # 6 empty line
    b"__label__1 \n",  # 7 empty text
    b"__label__2 Fine.\r\n",  # 8 ok (CRLF)
    b"__label__1 last line without newline",  # 9 ok
]


def _write(path: Path, data: bytes, *, compressed: bool) -> Path:
    path.write_bytes(bz2.compress(data) if compressed else data)
    return path


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "bz2"])
def test_amazon_reader_counts_malformed_lines_by_kind(tmp_path: Path, compressed: bool) -> None:
    path = _write(tmp_path / "train.ft.txt", b"".join(AMAZON_LINES), compressed=compressed)
    reviews, malformed = read_reviews(path)
    assert [(r.label, r.text) for r in reviews] == [
        (1, "Great product, works as described."),
        (0, "Broke after two days."),
        (1, "Fine."),
        (0, "last line without newline"),
    ]
    assert malformed.to_dict() == {
        "empty line": 1,
        "empty text": 1,
        "no label": 1,
        "undecodable bytes": 1,
        "unknown label": 1,
    }
    assert malformed.examples["undecodable bytes"] == [5]
    assert "5 malformed lines skipped" in malformed.describe()


def test_amazon_reader_strict_raises_naming_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "train.ft.txt", b"".join(AMAZON_LINES), compressed=True)
    with pytest.raises(DataFormatError, match=r"line 3: no label; expected '__label__1 <text>'"):
        read_reviews(path, strict=True)


def test_amazon_reader_streams_and_resets_counts(tmp_path: Path) -> None:
    source = ReviewFile(_write(tmp_path / "a.txt", b"".join(AMAZON_LINES), compressed=False))
    assert sum(1 for _ in source) == 4
    assert sum(1 for _ in source) == 4  # a second pass starts over
    assert source.malformed.total == 5


CSV_TEXT = (
    'id,review,sentiment\n'
    '1,"Loved it, really",pos\n'
    '2,"Multi-line\nreview, bad",neg\n'
    '3,No idea,maybe\n'
    '4,,pos\n'
    '5,Okay then,pos\n'
)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "bz2"])
def test_csv_reader_configurable_columns_and_labels(tmp_path: Path, compressed: bool) -> None:
    name = "data.csv.bz2" if compressed else "data.csv"
    path = _write(tmp_path / name, CSV_TEXT.encode(), compressed=compressed)
    options = CsvOptions(text_column="review", label_column="sentiment", negative_label="neg", positive_label="pos")
    reviews, malformed = read_csv_reviews(path, options=options)
    assert [(r.label, r.text) for r in reviews] == [
        (1, "Loved it, really"),
        (0, "Multi-line\nreview, bad"),
        (1, "Okay then"),
    ]
    assert malformed.to_dict() == {"empty text": 1, "unknown label": 1}


def test_csv_reader_counts_undecodable_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", b"text,label\ncaf\xe9,1\ngood,1\n", compressed=False)
    reviews, malformed = read_csv_reviews(path)
    assert [r.text for r in reviews] == ["good"]
    assert malformed.to_dict() == {"undecodable bytes": 1}


def test_csv_reader_errors_name_the_problem(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", CSV_TEXT.encode(), compressed=False)
    with pytest.raises(DataFormatError, match=r"no column\(s\) \['text', 'label'\].*--csv-text-column"):
        read_csv_reviews(path)
    options = CsvOptions(text_column="review", label_column="sentiment", negative_label="neg", positive_label="pos")
    # the row with the unknown label ends on line 5: the quoted review before it spans two lines
    with pytest.raises(DataFormatError, match=r"line 5: unknown label"):
        read_csv_reviews(path, options=options, strict=True)


def test_read_labelled_file_describes_the_file(tmp_path: Path) -> None:
    data = b"".join(AMAZON_LINES)
    path = _write(tmp_path / "train.ft.txt", data, compressed=False)
    described = read_labelled_file(path).describe()
    assert described == {
        "file": "train.ft.txt",  # the name only: the directory it sits in never travels
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": {"name": "amazon"},
        "examples": 4,
        "malformed": {"empty line": 1, "empty text": 1, "no label": 1, "undecodable bytes": 1, "unknown label": 1},
    }
    csv_path = _write(tmp_path / "x.csv", b"text,label\nnice,1\n", compressed=False)
    assert read_labelled_file(csv_path).describe()["examples"] == 1  # CSV recognised by its name


def test_read_labelled_file_rejects_a_file_without_reviews(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.txt", b"no labels here\nnor here\n", compressed=False)
    with pytest.raises(DataFormatError, match=r"holds no usable review \(2 malformed lines"):
        read_labelled_file(path)


def test_data_dir_layout(tmp_path: Path) -> None:
    train, test = data_files(None)  # the embedded snippets
    assert (train.name, test.name) == ("train.ft.txt.bz2", "test.ft.txt.bz2")
    (tmp_path / "train.ft.txt").write_text("__label__1 x\n")
    with pytest.raises(FileNotFoundError, match=r"neither test.ft.txt.bz2 nor test.ft.txt"):
        data_files(tmp_path)
    (tmp_path / "test.ft.txt").write_text("__label__1 x\n")
    assert data_files(tmp_path) == (tmp_path / "train.ft.txt", tmp_path / "test.ft.txt")


def test_both_readers_tell_bz2_from_plain_by_content_not_name(tmp_path: Path) -> None:
    amazon = _write(tmp_path / "plain-named.ft.txt", b"".join(AMAZON_LINES), compressed=True)
    csv_file = _write(tmp_path / "compressed-named.csv.bz2", b"text,label\nnice,1\nbad,0\n", compressed=False)
    assert len(read_labelled_file(amazon).reviews) == 4
    assert [r.label for r in read_labelled_file(csv_file).reviews] == [1, 0]


def test_a_data_format_round_trips_and_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    options = CsvOptions(text_column="review", label_column="stars", negative_label="1", positive_label="5")
    recorded = DataFormat.for_path(tmp_path / "x.CSV", csv_options=options)
    assert recorded == DataFormat("csv", options) and DataFormat.from_dict(recorded.to_dict()) == recorded
    assert DataFormat.for_path(tmp_path / "x.ft.txt.bz2", csv_options=options) == DataFormat("amazon")
    for bad, message in (
        ({"name": "parquet"}, r"data format must be one of \('amazon', 'csv'\), got 'parquet'"),
        ({"name": "csv", "csv_options": {"text_column": "t"}}, "CSV options must have exactly the keys"),
        ({"name": "amazon", "csv_options": options.to_dict()}, "CSV options belong to the csv format only"),
        ({"kind": "csv"}, "a data format must be"),
    ):
        with pytest.raises(DataFormatError, match=message):
            DataFormat.from_dict(bad)
    with pytest.raises(DataFormatError, match="text and label columns must differ"):
        CsvOptions(text_column="x", label_column="x")


# --- files from other tools, and files that break off -------------------------------------------


def _many_lines(count: int) -> bytes:
    return b"".join(b"__label__%d review number %d is fine\n" % (1 + index % 2, index) for index in range(count))


@pytest.mark.parametrize("reader", ["amazon", "csv"])
def test_a_truncated_bz2_file_is_one_error_naming_the_file_and_the_line(tmp_path: Path, reader: str) -> None:
    if reader == "amazon":
        data, path = _many_lines(20_000), tmp_path / "train.ft.txt.bz2"
    else:
        data, path = b"text,label\n" + b"".join(b"row %d is fine,1\n" % index for index in range(20_000)), tmp_path / "train.csv.bz2"
    compressed = bz2.compress(data)
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DataFormatError, match=rf"{path.name}: the file breaks off after line \d+ \(.*\); it is truncated or corrupted"):
        read_labelled_file(path)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "bz2"])
def test_a_utf8_byte_order_mark_is_dropped(tmp_path: Path, compressed: bool) -> None:
    amazon = _write(tmp_path / "bom.ft.txt", b"\xef\xbb\xbf__label__2 first line\n__label__1 second\n", compressed=compressed)
    reviews, malformed = read_reviews(amazon)
    assert [(r.label, r.text) for r in reviews] == [(1, "first line"), (0, "second")] and malformed.total == 0
    csv_path = _write(tmp_path / "bom.csv", b"\xef\xbb\xbftext,label\nfirst,1\n", compressed=compressed)
    assert [(r.label, r.text) for r in read_csv_reviews(csv_path)[0]] == [(1, "first")]


def test_cr_only_line_endings_are_refused_rather_than_merged(tmp_path: Path) -> None:
    path = tmp_path / "mac.ft.txt"
    path.write_bytes(b"__label__2 good\r__label__1 bad\r")
    with pytest.raises(DataFormatError, match=r"mac\.ft\.txt, line 1: a carriage return is followed by '__label__': the file has CR-only line endings"):
        read_reviews(path)
    path.write_bytes(b"__label__2 a stray\r carriage return stays text\r\n")
    assert [r.text for r in read_reviews(path)[0]] == ["a stray\r carriage return stays text"]
