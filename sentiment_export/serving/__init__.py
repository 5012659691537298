"""Scoring raw text with an artifact through onnxruntime: SentimentModel, providers, input validation (no torch)."""
