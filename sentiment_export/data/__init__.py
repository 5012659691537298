"""Readers of labelled review files: the Amazon polarity format and CSV, behind one function (no torch)."""

from .amazon import MalformedLines, Review, ReviewFile, read_reviews
from .csv_reader import CsvOptions, read_csv_reviews
from .files import open_data_file
from .labelled import DATA_FORMATS, DataFormat, LabelledFile, in_chunks, read_labelled_file

__all__ = [
    "DATA_FORMATS",
    "CsvOptions",
    "DataFormat",
    "LabelledFile",
    "MalformedLines",
    "Review",
    "ReviewFile",
    "in_chunks",
    "open_data_file",
    "read_csv_reviews",
    "read_labelled_file",
    "read_reviews",
]
