"""SentimentNet is a pure function of the id matrix: padding and batch-mates never change a score."""

from __future__ import annotations

import pytest
import torch

from sentiment_export import SentimentNet, SentimentNetConfig

CONFIGS = {
    "unidirectional-last": SentimentNetConfig(vocab_size=50, embedding_dim=8, hidden_dim=6, num_layers=2),
    "bidirectional-last": SentimentNetConfig(
        vocab_size=50, embedding_dim=8, hidden_dim=6, num_layers=2, bidirectional=True
    ),
    "bidirectional-mean-max": SentimentNetConfig(
        vocab_size=50, embedding_dim=8, hidden_dim=6, num_layers=1, bidirectional=True, pooling="mean_max"
    ),
}


@pytest.fixture(params=list(CONFIGS), ids=list(CONFIGS))
def net(request) -> SentimentNet:
    torch.manual_seed(0)
    return SentimentNet(CONFIGS[request.param]).eval()


def right_pad(rows: list[list[int]], width: int) -> torch.Tensor:
    return torch.tensor([row + [0] * (width - len(row)) for row in rows])


@torch.no_grad()
def test_padding_does_not_change_a_score(net: SentimentNet) -> None:
    review = [5, 9, 12, 7, 3]
    alone = net(right_pad([review], len(review)))
    for width in (6, 17, 64):
        assert torch.equal(net(right_pad([review], width)), alone)


@torch.no_grad()
def test_batch_mates_do_not_change_a_score(net: SentimentNet) -> None:
    generator = torch.Generator().manual_seed(1)
    rows = [torch.randint(2, 50, (length,), generator=generator).tolist() for length in (1, 4, 30, 9, 2)]
    batched = net(right_pad(rows, 30))
    for index, row in enumerate(rows):
        alone = net(right_pad([row], len(row)))
        torch.testing.assert_close(batched[index : index + 1], alone, rtol=0, atol=1e-6)
    reordered = net(right_pad(rows[::-1], 40)).flip(0)
    torch.testing.assert_close(reordered, batched, rtol=0, atol=1e-6)


@torch.no_grad()
def test_state_does_not_carry_between_calls(net: SentimentNet) -> None:
    ids = right_pad([[4, 8, 15, 16, 23, 42]], 6)
    first = net(ids)
    net(torch.randint(2, 50, (7, 11)))
    assert torch.equal(net(ids), first)


@torch.no_grad()
def test_an_empty_row_is_scored_as_a_single_pad_step(net: SentimentNet) -> None:
    assert torch.equal(net(torch.zeros(1, 5, dtype=torch.long)), net(torch.zeros(1, 1, dtype=torch.long)))


def test_config_round_trip_and_validation() -> None:
    config = CONFIGS["bidirectional-mean-max"]
    assert SentimentNetConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="pooling must be one of"):
        SentimentNetConfig(vocab_size=5, pooling="attention")
