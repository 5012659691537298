"""``sentiment_export.spark``: score a Spark DataFrame of reviews (the ``[spark]`` extra); see
:mod:`sentiment_export.serving.spark`."""

from .serving.spark import score_dataframe

__all__ = ["score_dataframe"]
