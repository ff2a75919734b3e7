"""Fixtures for the deployment tests: one small archive, unpacked, and its handler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fmnist_edu import models
from fmnist_edu.deploy import archive
from fmnist_edu.training import to_inputs


@pytest.fixture(scope="session")
def cnn() -> torch.nn.Module:
    """An untrained CNN with fixed weights: the handler must reproduce its outputs exactly."""
    torch.manual_seed(0)
    return models.CNN().eval()


@pytest.fixture(scope="session")
def archive_path(cnn, tmp_path_factory):
    """The archive of ``cnn``, with its ONNX model."""
    return archive.package(cnn, tmp_path_factory.mktemp("archive"), about={"test": True})


@pytest.fixture(scope="session")
def model_dir(archive_path, tmp_path_factory):
    return archive.extract(archive_path, tmp_path_factory.mktemp("unpacked"))


@pytest.fixture(scope="session")
def handler(model_dir):
    """The archive's own ``code/inference.py``, imported as SageMaker would."""
    return archive.load_handler(model_dir)


@pytest.fixture(scope="session")
def images(subset) -> np.ndarray:
    """Eight real test images, uint8 [8, 28, 28]."""
    return subset.test.images[:8].numpy()


def expected_probabilities(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """What eager PyTorch gives for ``images`` (uint8 [N, 28, 28])."""
    with torch.inference_mode():
        return torch.softmax(model(to_inputs(torch.from_numpy(images))), 1).numpy()
