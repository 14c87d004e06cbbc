"""Tokens, the deterministic split and the causal shift between inputs and targets."""

from __future__ import annotations

import numpy as np
import pytest

from distill import data
from distill.batches import from_corpus, to_device
from distill.config import DataConfig
from distill.errors import DataError


def test_the_embedded_corpus_is_the_pydoc_topics_text() -> None:
    text = data.default_text()
    assert 300_000 < len(text) < 2_000_000
    assert b"The " in text


def test_the_split_is_deterministic_and_holds_out_the_tail() -> None:
    tokens = np.arange(1000) % 256
    corpus = data.split(tokens, DataConfig(seq_len=8, val_fraction=0.1), 256)
    again = data.split(tokens, DataConfig(seq_len=8, val_fraction=0.1), 256)
    assert np.array_equal(corpus.val, tokens[-100:])
    assert np.array_equal(corpus.train, tokens[:-100])
    assert data.fingerprint(corpus, DataConfig(seq_len=8)) == data.fingerprint(
        again, DataConfig(seq_len=8)
    )
    assert corpus.train.dtype == np.uint8


def test_targets_are_the_inputs_shifted_by_one_token() -> None:
    tokens = np.arange(200) % 256
    corpus = data.split(tokens, DataConfig(seq_len=4, val_fraction=0.1), 256)
    x, y, teacher = to_device(from_corpus(corpus, 4).fetch(np.array([0, 1])), device=_cpu())
    assert x.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert teacher is None


def test_a_corpus_too_small_for_the_windows_is_refused() -> None:
    with pytest.raises(DataError, match="too small"):
        data.split(np.arange(20), DataConfig(seq_len=16), 256)


def test_narrowest_id_type_grows_with_the_vocabulary() -> None:
    assert data.narrow_uint(256) == np.uint8
    assert data.narrow_uint(257) == np.uint16
    assert data.narrow_uint(65536) == np.uint16
    assert data.narrow_uint(151936) == np.uint32


def _cpu():  # type: ignore[no-untyped-def]
    import torch

    return torch.device("cpu")


def test_the_epoch_order_is_torchs_int64_permutation_held_in_int32() -> None:
    import torch

    from distill.batches import epoch_order

    order = epoch_order(5000, 3, 2)
    gen = torch.Generator().manual_seed(3 * 1_000_003 + 2)
    assert order.dtype == np.int32
    assert np.array_equal(order, torch.randperm(5000, generator=gen).numpy())
    assert epoch_order(5000, 3, 2) is order  # built once per epoch, not per step
    assert not order.flags.writeable
