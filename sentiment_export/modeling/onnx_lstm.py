"""A bidirectional LSTM layer as ONNX's own ``LSTM`` op, with each row's length as ``sequence_lens``.

In PyTorch a padding-invariant bidirectional layer is two single-direction
LSTMs, the backward one run over each row reversed within its length (two
gathers per layer). ONNX's ``LSTM`` does exactly that by itself: given
``sequence_lens``, its reverse direction starts at each row's own last real
step. Exported through this op, a layer is one onnxruntime kernel instead of
two kernels plus gathers, transposes and selects around them (measured:
benchmarks/README.md, "Decisions"). Only the exported graph changes; the
eager network, TorchScript and ``torch.export`` keep the two LSTMs.

Positions past a row's length come out as zeros here and as the backward
LSTM's outputs over padding in eager mode; SentimentNet never reads them
(its pooling is masked), so the scores agree (the export's parity gate).
"""

from __future__ import annotations

import torch
from torch import nn

_ONNX_GATES = (0, 3, 1, 2)
"""PyTorch stacks the gates' weights as (input, forget, cell, output); ONNX as (input, output, forget, cell)."""


def _onnx_gate_order(weight: torch.Tensor) -> torch.Tensor:
    gates = weight.chunk(4, dim=0)
    return torch.cat([gates[index] for index in _ONNX_GATES], dim=0)


class _BidirectionalLSTMOp(torch.autograd.Function):
    """Traced by the ONNX exporter only: ``symbolic`` is what the graph gets; ``forward`` gives the shape."""

    @staticmethod
    def forward(ctx, x, weight, recurrence, bias, sequence_lens, hidden_size):  # type: ignore[no-untyped-def]  # noqa: ANN001, ARG004
        steps, batch = x.shape[0], x.shape[1]
        return x.new_zeros((steps, 2, batch, hidden_size))

    @staticmethod
    def symbolic(g, x, weight, recurrence, bias, sequence_lens, hidden_size):  # type: ignore[no-untyped-def]  # noqa: ANN001
        outputs = g.op(
            "LSTM", x, weight, recurrence, bias, sequence_lens,
            hidden_size_i=hidden_size, direction_s="bidirectional", outputs=3,
        )
        return outputs[0]


def onnx_bidirectional_layer(
    forward_lstm: nn.LSTM, backward_lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """(B, T, E) inputs, (B,) lengths -> (B, T, 2H): forward outputs then backward, as one ONNX ``LSTM``.

    Only meaningful inside ``torch.onnx.export``; ``forward`` outside it returns zeros.
    """
    pairs = (forward_lstm, backward_lstm)
    weight = torch.stack([_onnx_gate_order(lstm.weight_ih_l0) for lstm in pairs])  # (2, 4H, E)
    recurrence = torch.stack([_onnx_gate_order(lstm.weight_hh_l0) for lstm in pairs])  # (2, 4H, H)
    bias = torch.stack(
        [torch.cat([_onnx_gate_order(lstm.bias_ih_l0), _onnx_gate_order(lstm.bias_hh_l0)]) for lstm in pairs]
    )  # (2, 8H)
    outputs = _BidirectionalLSTMOp.apply(
        x.transpose(0, 1), weight, recurrence, bias, lengths.to(torch.int32), forward_lstm.hidden_size
    )  # (T, 2, B, H)
    return outputs.permute(2, 0, 1, 3).flatten(2)
