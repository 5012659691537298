"""The HTTP inference server: Open Inference Protocol v2 and ``/predict`` over adaptive micro-batching.

Needs the ``[serve]`` extra. Nothing here imports torch: a server process
holds onnxruntime, the encoder and the ASGI stack only.
"""
