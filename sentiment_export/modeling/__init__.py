"""SentimentNet, its config and checkpoints (torch)."""
