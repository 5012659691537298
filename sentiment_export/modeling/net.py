"""SentimentNet: Embedding -> stacked LSTM -> Linear -> one logit, as a pure function of ids.

Input is a right-padded ``(batch, seq)`` int64 id matrix with PAD = 0. Each
row's length is the number of non-PAD ids (at least 1), and only the first
``length`` steps ever reach the output: the forward direction reads the output
at the last real step, the backward direction runs over each row reversed
within its own length, and pooling is masked. So a review's score does not
depend on how much padding its batch needs or on the other reviews in it, and
the hidden state starts at zero on every call.

An optional second branch (``ngram_dim`` > 0) is a fastText-style bag of
n-grams: the mean of learned vectors for every unigram and every hashed
bigram of the review, with its own Linear layer. Training gives each branch
its own loss (``forward(..., per_branch=True)``), so the two are an ensemble
of different models in one graph; trained on one joint loss instead, the LSTM
fitted the training set first and the whole was worse than the bag alone
(measured on imdb, README). The network's logit is a weighted sum of the
branch logits whose weights (buffers ``branch_weights``/``branch_bias``) are
fitted on the validation split by the training loop. The bag sees all
``max_length`` tokens for almost no arithmetic; the LSTM reads only the last
``recurrent_steps`` of them (the end of a long review, where its verdict
usually is), so long reviews cost a bounded number of recurrent steps.
The bigram hash is integer arithmetic on the ids inside the graph, so
TorchScript, ONNX and libtorch compute the same buckets and the encoder
contract (spec -> ids) does not change.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import SentimentNetConfig
from .onnx_lstm import onnx_bidirectional_layer

BIGRAM_HASH_MULTIPLIER = 1_000_003
"""Bigram ``(a, b)`` of ids goes to bucket ``(a * M + b) mod buckets``, then + 1 (0 is padding).
Part of the model's definition: changing it changes every trained bag-of-n-grams model."""


def hashed_bigrams(input_ids: torch.Tensor, buckets: int) -> torch.Tensor:
    """(B, T) right-padded ids -> (B, T) bucket of the bigram starting at each position, 0 where it ends in PAD.

    The last position pairs with an implied PAD, so even a batch one token wide
    has a bigram axis of length 1: onnxruntime's CUDA provider refuses to
    reduce over an axis of length 0 (seen on an H200), where the CPU gives 0.
    """
    following = torch.cat([input_ids[:, 1:], torch.zeros_like(input_ids[:, :1])], dim=1)
    hashed = (input_ids * BIGRAM_HASH_MULTIPLIER + following) % buckets + 1
    return torch.where(following != 0, hashed, torch.zeros_like(hashed))


def step_positions(row: torch.Tensor) -> torch.Tensor:
    """``0, 1, ..., len(row) - 1`` (int64) on ``row``'s device.

    Not ``torch.arange(n, device=...)``: ``torch.jit.trace`` records that device
    as a constant, and the TorchScript model would then fail on any other device
    (a CUDA ``model.pt`` mixing CPU positions with CUDA ids). ``ones_like``
    follows its input's device wherever the trace runs.
    """
    return torch.ones_like(row, dtype=torch.long).cumsum(0) - 1


def zero_state(lstm: nn.LSTM, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The zero initial (h, c) for ``lstm`` over the batch ``x``, made from ``x`` for the same reason.

    ``nn.LSTM`` makes its own zeros with ``torch.zeros(..., device=input.device)``,
    which a trace bakes to the tracing device.
    """
    state = x.new_zeros((lstm.num_layers * (2 if lstm.bidirectional else 1), x.shape[0], lstm.hidden_size))
    return state, state


def _reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first ``length`` steps, leaving the padding after them in place.

    ``x``: (B, T, C); ``lengths``: (B,). Applying it twice is the identity.
    """
    steps = step_positions(x[0, :, 0]).unsqueeze(0)  # (1, T)
    last = (lengths - 1).unsqueeze(1)  # (B, 1)
    index = torch.where(steps <= last, last - steps, steps)  # (B, T)
    return x.gather(1, index.unsqueeze(2).expand(-1, -1, x.shape[2]))


class SentimentNet(nn.Module):
    """The article's network, made padding-invariant; ``forward`` returns logits (B,)."""

    def __init__(self, config: SentimentNetConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        inter_layer_dropout = config.dropout if config.num_layers > 1 else 0.0
        if config.bidirectional:
            # One single-layer LSTM per layer and direction, so that the backward one
            # can run over each row reversed within its own length.
            directions = 2
            self.forward_layers = nn.ModuleList()
            self.backward_layers = nn.ModuleList()
            for layer in range(config.num_layers):
                size_in = config.embedding_dim if layer == 0 else 2 * config.hidden_dim
                self.forward_layers.append(nn.LSTM(size_in, config.hidden_dim, batch_first=True))
                self.backward_layers.append(nn.LSTM(size_in, config.hidden_dim, batch_first=True))
            self.inter_layer_dropout = nn.Dropout(inter_layer_dropout)
        else:
            directions = 1
            self.lstm = nn.LSTM(
                config.embedding_dim,
                config.hidden_dim,
                num_layers=config.num_layers,
                dropout=inter_layer_dropout,
                batch_first=True,
            )
        features = directions * config.hidden_dim * (2 if config.pooling == "mean_max" else 1)
        if config.ngram_dim:
            self.unigram_vectors = nn.Embedding(config.vocab_size, config.ngram_dim, padding_idx=0)
            if config.ngram_buckets:
                self.bigram_vectors = nn.Embedding(config.ngram_buckets + 1, config.ngram_dim, padding_idx=0)
            self.ngram_fc = nn.Linear(config.ngram_dim, 1)
            # the mean of the branches until the training loop fits them (set_branch_blend)
            self.register_buffer("branch_weights", torch.full((2,), 0.5))
            self.register_buffer("branch_bias", torch.zeros(()))
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(features, 1)

    def _encode_sequence(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, E) embeddings -> (B, T, D*H) top-layer outputs."""
        if not self.config.bidirectional:
            return self.lstm(x, zero_state(self.lstm, x))[0]
        for layer, (forward_lstm, backward_lstm) in enumerate(zip(self.forward_layers, self.backward_layers)):
            if layer > 0:
                x = self.inter_layer_dropout(x)
            if torch.onnx.is_in_onnx_export():
                x = onnx_bidirectional_layer(forward_lstm, backward_lstm, x, lengths)
                continue
            ahead = forward_lstm(x, zero_state(forward_lstm, x))[0]
            reversed_x = _reverse_within_length(x, lengths)
            behind = _reverse_within_length(backward_lstm(reversed_x, zero_state(backward_lstm, x))[0], lengths)
            x = torch.cat([ahead, behind], dim=2)
        return x

    def _pool(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, F') using only each row's real steps."""
        if self.config.pooling == "last":
            if not self.config.bidirectional:
                index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[2])
                return outputs.gather(1, index).squeeze(1)
            hidden = self.config.hidden_dim
            index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden)
            last_forward = outputs[:, :, :hidden].gather(1, index).squeeze(1)
            first_backward = outputs[:, 0, hidden:]  # the backward pass ends at step 0
            return torch.cat([last_forward, first_backward], dim=1)
        steps = step_positions(outputs[0, :, 0]).unsqueeze(0)
        mask = (steps < lengths.unsqueeze(1)).unsqueeze(2)  # (B, T, 1)
        total = (outputs * mask).sum(dim=1)
        mean = total / lengths.unsqueeze(1).to(outputs.dtype)
        largest = outputs.masked_fill(~mask, torch.finfo(outputs.dtype).min).amax(dim=1)
        return torch.cat([mean, largest], dim=1)

    def _bag_of_ngrams(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, ngram_dim): mean vector of the real unigrams and bigrams.

        PAD's vectors are zero (``padding_idx``), and a bigram ending in PAD goes
        to bucket 0, so padding adds nothing to the sums; the divisor counts only
        real n-grams.
        """
        unigrams = self._drop_ngrams(input_ids)
        total = self.unigram_vectors(unigrams).sum(dim=1)
        # with every id kept, the count of real unigrams is the row's length, already known
        count = lengths if unigrams is input_ids else (unigrams != 0).sum(dim=1)
        if self.config.ngram_buckets:
            bigrams = self._drop_ngrams(hashed_bigrams(input_ids, self.config.ngram_buckets))
            total = total + self.bigram_vectors(bigrams).sum(dim=1)
            count = count + (bigrams != 0).sum(dim=1)
        # a training step may drop every n-gram of a short review: its bag is then zero
        return total / count.clamp(min=1).unsqueeze(1).to(total.dtype)

    def _drop_ngrams(self, ngrams: torch.Tensor) -> torch.Tensor:
        """In training, each n-gram (id or bucket) replaced by PAD with probability ``ngram_dropout``.

        The bag is a mean, so a dropped n-gram leaves the mean of the others
        (word dropout, as in deep averaging networks): no n-gram can carry a
        review alone. Evaluation and export see every n-gram.
        """
        rate = self.config.ngram_dropout
        if not (self.training and rate):
            return ngrams
        return ngrams.masked_fill(torch.rand(ngrams.shape, device=ngrams.device) < rate, 0)

    def bag_of_ngrams_parameters(self) -> list[nn.Parameter]:
        """Every parameter of the bag-of-n-grams branch (none without it), e.g. to give them their own rate."""
        if not self.config.ngram_dim:
            return []
        modules = [self.unigram_vectors, *([self.bigram_vectors] if self.config.ngram_buckets else []), self.ngram_fc]
        return [parameter for module in modules for parameter in module.parameters()]

    def set_branch_blend(self, weights: torch.Tensor, bias: float) -> None:
        """Use ``weights · branch logits + bias`` as the logit (fitted on held-out data by the caller)."""
        if not self.config.ngram_dim:
            raise ValueError("set_branch_blend needs the bag-of-n-grams branch (ngram_dim > 0)")
        self.branch_weights.copy_(torch.as_tensor(weights, dtype=self.branch_weights.dtype))
        self.branch_bias.fill_(float(bias))

    def _last_steps(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each row's last ``recurrent_steps`` real ids, moved to the front and right-padded, and their count."""
        steps = self.config.recurrent_steps
        positions = step_positions(input_ids[0])[:steps].unsqueeze(0)  # (1, T')
        kept = lengths.clamp(max=steps)
        real = positions < kept.unsqueeze(1)  # (B, T')
        # positions past a row's kept count read themselves (always in range) and become PAD
        index = torch.where(real, (lengths - kept).unsqueeze(1) + positions, positions)
        taken = input_ids.gather(1, index)
        return torch.where(real, taken, torch.zeros_like(taken)), kept

    def forward(self, input_ids: torch.Tensor, per_branch: bool = False) -> torch.Tensor:
        """``input_ids``: (B, T) int64, right-padded with 0 -> logits (B,).

        ``per_branch=True`` gives each branch's logit instead, (B, branches),
        for training each branch on its own loss.
        """
        lengths = (input_ids != 0).sum(dim=1).clamp(min=1)  # (B,)
        recurrent_ids, recurrent_lengths = input_ids, lengths
        if self.config.recurrent_steps:
            recurrent_ids, recurrent_lengths = self._last_steps(input_ids, lengths)
        x = self.embedding_dropout(self.embedding(recurrent_ids))  # (B, T', E)
        outputs = self._encode_sequence(x, recurrent_lengths)  # (B, T', D*H)
        branches = [self.fc(self.dropout(self._pool(outputs, recurrent_lengths)))]
        if self.config.ngram_dim:
            branches.append(self.ngram_fc(self._bag_of_ngrams(input_ids, lengths)))
        logits = torch.cat(branches, dim=1)  # (B, branches)
        return logits if per_branch else self.blend_branches(logits)

    def blend_branches(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, branches) branch logits -> (B,) the network's logits."""
        if not self.config.ngram_dim:
            return logits.squeeze(1)
        return logits @ self.branch_weights + self.branch_bias


class ProbabilityModel(nn.Module):
    """SentimentNet with the sigmoid applied: the exported models output P(positive)."""

    def __init__(self, net: SentimentNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(input_ids))
