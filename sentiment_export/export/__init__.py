"""TorchScript / ONNX / int8 exporters, the parity gate, and building an artifact (torch)."""
