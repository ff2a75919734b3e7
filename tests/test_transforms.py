"""Image shifts: zero fill (not wrap-around), any offset, per-image random offsets."""

from __future__ import annotations

import pytest
import torch

from fmnist_edu import transforms
from fmnist_edu.errors import ConfigError

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
OFFSETS = [(0, 0), (1, 0), (0, -1), (2, -3), (-5, 7), (27, -27), (-27, 1), (28, 0), (0, -28)]
OFFSETS += [(100, 3), (-3, -100)]


def naive_shift(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Pixel by pixel: out[i, j] = in[i - dy, j - dx] where that pixel exists, else 0."""
    out = torch.zeros_like(images)
    height, width = images.shape[-2:]
    for i in range(height):
        for j in range(width):
            if 0 <= i - dy < height and 0 <= j - dx < width:
                out[..., i, j] = images[..., i - dy, j - dx]
    return out


def batch(shape=(5, 28, 28), dtype=torch.uint8, device="cpu", seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(1, 256, shape, generator=generator)  # no zero pixels
    return images.to(dtype=dtype, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "shape, dtype", [((5, 28, 28), torch.uint8), ((3, 1, 28, 28), torch.float32)]
)
@pytest.mark.parametrize("dy, dx", OFFSETS)
def test_shift_matches_the_naive_reference(dy, dx, shape, dtype, device):
    images = batch(shape, dtype, device)
    shifted = transforms.shift(images, dy, dx)
    assert shifted.shape == images.shape and shifted.dtype == dtype
    assert shifted.device == images.device
    assert torch.equal(shifted.cpu(), naive_shift(images.cpu(), dy, dx))


def test_shift_fills_with_zeros_instead_of_wrapping_around():
    images = batch()
    shifted = transforms.shift(images, 2, -3)
    assert (shifted[:, :2, :] == 0).all()  # rows that entered at the top
    assert (shifted[:, :, -3:] == 0).all()  # columns that entered at the right
    assert (shifted[:, 2:, :-3] != 0).all()  # the rest is image (which has no zeros)
    assert not torch.equal(shifted, torch.roll(images, (2, -3), dims=(1, 2)))


@pytest.mark.parametrize("dy, dx", [(3, 0), (0, -4), (2, 5), (-6, -1)])
def test_shift_and_back_gives_the_image_with_its_border_zeroed(dy, dx):
    images = batch()
    back = transforms.shift(transforms.shift(images, dy, dx), -dy, -dx)
    kept = torch.zeros(28, 28, dtype=torch.bool)
    kept[max(0, -dy) : 28 - max(0, dy), max(0, -dx) : 28 - max(0, dx)] = True
    assert torch.equal(back, torch.where(kept, images, torch.zeros_like(images)))


def test_a_shift_out_of_the_frame_gives_zeros():
    images = batch()
    for dy, dx in [(28, 0), (0, -28), (1000, 1000)]:
        assert not transforms.shift(images, dy, dx).any()


def test_shift_rejects_offsets_that_are_not_integers():
    with pytest.raises(TypeError):
        transforms.shift(batch(), 1.5, 0)


@pytest.mark.parametrize("device", DEVICES)
def test_shift_each_moves_every_image_by_its_own_offset(device):
    images = batch((6, 1, 28, 28), torch.float32, device)
    dy, dx = torch.tensor([0, 1, -2, 5, -27, 3]), torch.tensor([0, -1, 2, 0, 27, -9])
    out = transforms.shift_each(images, dy, dx)
    for n in range(6):
        assert torch.equal(out[n], transforms.shift(images[n], int(dy[n]), int(dx[n])))


def test_random_shift_uses_offsets_within_the_range_and_is_seeded():
    images = batch((40, 28, 28))
    out = transforms.random_shift(images, 2, torch.Generator().manual_seed(0))
    offsets = set()
    for img, moved in zip(images, out, strict=True):
        found = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(transforms.shift(img, dy, dx), moved)
        ]
        assert len(found) == 1  # images without zero pixels: exactly one offset fits
        offsets.add(found[0])
    assert len(offsets) > 5  # the offsets vary from image to image
    again = transforms.random_shift(images, 2, torch.Generator().manual_seed(0))
    other = transforms.random_shift(images, 2, torch.Generator().manual_seed(1))
    assert torch.equal(out, again) and not torch.equal(out, other)


def test_random_shift_edge_cases():
    images = batch()
    assert torch.equal(transforms.random_shift(images, 0), images)
    assert transforms.random_shift(images[:0], 2).shape == (0, 28, 28)
    for bad in (-1, 28):
        with pytest.raises(ConfigError, match=f"max_shift={bad}"):
            transforms.random_shift(images, bad)
