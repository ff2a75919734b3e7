"""fmnist_edu.beyond.tabular and conv1d: the bundled tables and the networks on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fmnist_edu import permutation
from fmnist_edu.beyond import conv1d, sets, tabular, tuning
from fmnist_edu.errors import ConfigError


def test_the_bundled_tables_load():
    cancer = tabular.load_table()  # the chapter's table: the larger one
    assert cancer.x.shape == (569, 30) and set(cancer.y.tolist()) == {0, 1}
    wine = tabular.load_table("wine")
    assert wine.x.shape == (178, 13) and len(wine.class_names) == 3
    with pytest.raises(ConfigError, match="choose one of breast_cancer, wine"):
        tabular.load_table("iris")


def _spike(position: int) -> torch.Tensor:
    x = torch.zeros(1, 30)
    x[0, position] = 3.0
    return x


def test_the_averaging_cnn_cannot_tell_columns_apart_and_the_chapters_cnn_can():
    # The same value in column 10 or in column 16: a global average over the columns
    # gives the same output (convolutions shift with the input); a dense head does not.
    torch.manual_seed(0)
    averaged = tuning.NETS["1-D CNN, averaged"](30, 2).eval()
    torch.testing.assert_close(averaged(_spike(10)), averaged(_spike(16)), rtol=0, atol=1e-6)
    torch.manual_seed(0)
    chapters = tuning.NETS["1-D CNN"](30, 2).eval()
    assert not torch.allclose(chapters(_spike(10)), chapters(_spike(16)), atol=1e-4)


def test_the_cnn_depends_on_the_column_order_and_the_mlp_only_through_its_weights():
    torch.manual_seed(0)
    x = torch.randn(32, 13)
    order = torch.randperm(13, generator=torch.Generator().manual_seed(1))
    cnn = tabular.FeatureCNN(3, head="dense", features=13).eval()
    assert cnn(x).shape == (32, 3)
    assert not torch.allclose(cnn(x), cnn(x[:, order]), atol=1e-4)
    mlp = tabular.FeatureMLP(13, 3).eval()
    before = mlp(x)
    permutation.relabel_first_layer(mlp, order)
    torch.testing.assert_close(mlp(x[:, order]), before, rtol=0, atol=1e-5)
    with pytest.raises(ConfigError, match="needs the number of features"):
        tabular.FeatureCNN(3, head="dense")
    with pytest.raises(ConfigError, match="choose 'average' or 'dense'"):
        tabular.FeatureCNN(3, head="max")


def test_tables_and_sets_share_one_convolutional_block():
    block = conv1d.conv_block(4, 6, 5)
    assert block(torch.randn(2, 4, 9)).shape == (2, 6, 9)  # "same" padding keeps the length
    for cnn in (tabular.FeatureCNN(2, kernel_size=5), sets.SetCNN(kernel_size=5)):
        convs = [m for m in cnn.features if isinstance(m, torch.nn.Conv1d)]
        assert [c.kernel_size for c in convs] == [(5,), (5,)]
    with pytest.raises(ConfigError, match="must be odd"):
        conv1d.conv_block(1, 4, 2)
    with pytest.raises(ConfigError, match="must be odd"):
        sets.SetCNN(kernel_size=4)


def test_column_orders_start_with_the_tables_own():
    orders = tabular.column_orders(13, shuffles=3, seed=0)
    assert len(orders) == 4 and (orders[0] == np.arange(13)).all()
    assert all(sorted(o) == list(range(13)) for o in orders)
    assert not (orders[1] == orders[0]).all()
    assert all((o == p).all() for o, p in zip(orders, tabular.column_orders(13, 3, 0), strict=True))
