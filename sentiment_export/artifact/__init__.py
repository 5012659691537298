"""The artifact format: typed manifest, loader, archive safety, model card, the model's I/O signature (no torch)."""
