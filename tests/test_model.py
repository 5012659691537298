"""SentimentNet is a pure function of the id matrix: padding and batch-mates never change a score."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from sentiment_export import SentimentNet, SentimentNetConfig
from sentiment_export.modeling.net import BIGRAM_HASH_MULTIPLIER, hashed_bigrams

CONFIGS = {
    "unidirectional-last": SentimentNetConfig(vocab_size=50, embedding_dim=8, hidden_dim=6, num_layers=2),
    "bidirectional-last": SentimentNetConfig(
        vocab_size=50, embedding_dim=8, hidden_dim=6, num_layers=2, bidirectional=True
    ),
    "bidirectional-mean-max": SentimentNetConfig(
        vocab_size=50, embedding_dim=8, hidden_dim=6, num_layers=1, bidirectional=True, pooling="mean_max"
    ),
    "bag-of-ngrams": SentimentNetConfig(
        vocab_size=50, embedding_dim=8, hidden_dim=6, num_layers=1, bidirectional=True, pooling="mean_max",
        recurrent_steps=4, ngram_dim=3, ngram_buckets=97,
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
    with pytest.raises(ValueError, match="ngram_buckets needs ngram_dim"):
        SentimentNetConfig(vocab_size=5, ngram_buckets=10)
    with pytest.raises(ValueError, match="ngram_dropout needs ngram_dim"):
        SentimentNetConfig(vocab_size=5, ngram_dropout=0.5)
    with pytest.raises(ValueError, match=r"ngram_dropout must be in \[0, 1\)"):
        SentimentNetConfig(vocab_size=5, ngram_dim=2, ngram_dropout=1.0)
    with pytest.raises(ValueError, match="recurrent_steps must be between 0 and 1,000,000, got -1"):
        SentimentNetConfig(vocab_size=5, recurrent_steps=-1)
    with pytest.raises(ValueError, match="embedding_dim must be between 1 and 8,192, got 100000"):
        SentimentNetConfig(vocab_size=5, embedding_dim=100_000)


def _bag_net() -> SentimentNet:
    torch.manual_seed(0)
    return SentimentNet(CONFIGS["bag-of-ngrams"]).eval()


@torch.no_grad()
def test_the_bag_is_the_mean_of_unigram_and_hashed_bigram_vectors() -> None:
    net = _bag_net()
    review = [5, 9, 12, 7, 3, 9]
    vectors = [net.unigram_vectors.weight[token] for token in review]
    for first, second in zip(review, review[1:]):
        bucket = (first * BIGRAM_HASH_MULTIPLIER + second) % net.config.ngram_buckets + 1
        vectors.append(net.bigram_vectors.weight[bucket])
    expected = torch.stack(vectors).mean(dim=0)
    ids = right_pad([review], 9)
    got = net._bag_of_ngrams(ids, (ids != 0).sum(dim=1))[0]
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


@torch.no_grad()
def test_every_position_has_a_bigram_slot_so_no_reduction_is_over_an_empty_axis() -> None:
    # onnxruntime's CUDA provider fails a ReduceSum over an axis of length 0 (a batch one token wide)
    for ids in (torch.tensor([[7]]), torch.tensor([[7, 0], [5, 9]])):
        bigrams = hashed_bigrams(ids, 97)
        assert bigrams.shape == ids.shape
        assert bigrams[:, -1].eq(0).all()  # the last position pairs with the implied PAD
    net = _bag_net()
    one_token = net._bag_of_ngrams(torch.tensor([[7]]), torch.tensor([1]))[0]
    torch.testing.assert_close(one_token, net.unigram_vectors.weight[7], rtol=0, atol=0)


@torch.no_grad()
def test_tokens_before_the_last_recurrent_steps_reach_the_score_only_through_the_bag() -> None:
    net = _bag_net()
    head, other_head, tail = [3, 3, 8], [44, 2, 30], [5, 9, 12, 7]
    assert len(tail) == net.config.recurrent_steps
    assert not torch.equal(net(right_pad([head + tail], 7)), net(right_pad([other_head + tail], 7)))
    net.unigram_vectors.weight.zero_()
    net.bigram_vectors.weight.zero_()
    # with the bag silenced the heads differ only in their n-gram count, which scales a zero vector
    assert torch.equal(net(right_pad([head + tail], 9)), net(right_pad([other_head + tail], 7)))
    # and the LSTM reads the tail exactly as it reads the tail alone
    alone = net(right_pad([tail], 4), per_branch=True)[:, 0]
    assert torch.equal(net(right_pad([head + tail, [6]], 11), per_branch=True)[:1, 0], alone)


@torch.no_grad()
def test_the_logit_is_the_fitted_blend_of_the_branch_logits() -> None:
    net = _bag_net()
    ids = torch.randint(2, 50, (6, 9), generator=torch.Generator().manual_seed(3))
    branches = net(ids, per_branch=True)
    assert branches.shape == (6, 2)
    torch.testing.assert_close(net(ids), branches.mean(dim=1), rtol=0, atol=1e-6)
    net.set_branch_blend(torch.tensor([2.0, -0.5]), 0.25)
    torch.testing.assert_close(net(ids), 2.0 * branches[:, 0] - 0.5 * branches[:, 1] + 0.25, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="needs the bag-of-n-grams branch"):
        SentimentNet(CONFIGS["bidirectional-mean-max"]).set_branch_blend(torch.ones(2), 0.0)


def test_bag_of_ngrams_parameters_are_exactly_the_branch() -> None:
    net = _bag_net()
    names = {id(parameter): name for name, parameter in net.named_parameters()}
    got = {names[id(parameter)] for parameter in net.bag_of_ngrams_parameters()}
    assert got == {"unigram_vectors.weight", "bigram_vectors.weight", "ngram_fc.weight", "ngram_fc.bias"}
    assert SentimentNet(CONFIGS["bidirectional-mean-max"]).bag_of_ngrams_parameters() == []


def test_ngram_dropout_averages_the_kept_ngrams_in_training_and_every_ngram_in_evaluation() -> None:
    torch.manual_seed(0)
    net = SentimentNet(dataclasses.replace(CONFIGS["bag-of-ngrams"], ngram_dropout=0.5))
    reference = _bag_net()
    net.load_state_dict(reference.state_dict())
    review = [5, 9, 12, 7, 3, 9, 14, 21]
    ids = right_pad([review], 10)
    lengths = (ids != 0).sum(dim=1)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()._bag_of_ngrams(ids, lengths), reference._bag_of_ngrams(ids, lengths),
                                   rtol=0, atol=0)
        net.train()
        torch.manual_seed(3)
        dropped = net._bag_of_ngrams(ids, lengths)[0]
        torch.manual_seed(3)  # the same draws, to rebuild which n-grams were kept
        kept_unigrams = torch.rand(ids.shape)[0] >= 0.5
        kept_bigrams = torch.rand(ids.shape)[0] >= 0.5
    bigrams = hashed_bigrams(ids, net.config.ngram_buckets)[0]
    vectors = [net.unigram_vectors.weight[t] for t, keep in zip(ids[0].tolist(), kept_unigrams) if keep and t]
    vectors += [net.bigram_vectors.weight[b] for b, keep in zip(bigrams.tolist(), kept_bigrams) if keep and b]
    assert 0 < len(vectors) < 2 * len(review) - 1  # some n-grams dropped, some kept
    torch.testing.assert_close(dropped, torch.stack(vectors).mean(dim=0), rtol=0, atol=1e-6)


def test_a_review_whose_every_ngram_is_dropped_gives_a_zero_bag_not_nan() -> None:
    torch.manual_seed(0)
    net = SentimentNet(dataclasses.replace(CONFIGS["bag-of-ngrams"], ngram_dropout=0.999_999)).train()
    ids = torch.tensor([[7]])
    assert torch.equal(net._bag_of_ngrams(ids, torch.tensor([1])), torch.zeros(1, 3))
