import awkward as ak
import numpy as np
import pytest
import torch

from adsearch.graphs import to_dense, toy_jets
from adsearch.images import ImagesConfig, jet_images
from adsearch.images.centre import centre_on_centroid
from adsearch.images.flip import flip_hardest_half
from adsearch.images.rotate import rotate_principal_vertical
from tests.images.jets import dense_jets, rotated

RAW = ImagesConfig(centre=False, rotate=False, flip=False, normalise=False)


def test_raw_images_conserve_the_in_window_pt():
    x, mask = dense_jets(16)
    img = jet_images(x, mask, RAW)
    inside = mask & (x[..., 1].abs() < 1.0) & (x[..., 2].abs() < 1.0)
    torch.testing.assert_close(img.sum((1, 2)), (x[..., 0] * inside).sum(-1))
    small = jet_images(x, mask, ImagesConfig(extent=0.1, normalise=False, pixels=7))
    assert (small.sum((1, 2)) < img.sum((1, 2)) - 1e-3).any()  # a smaller window loses pT


def test_preprocessed_images_conserve_the_in_window_pt_and_normalise_to_one():
    x, mask = dense_jets(16)
    w = x[..., 0] * mask
    u, v = centre_on_centroid(x[..., 1], x[..., 2], w)
    u, v = flip_hardest_half(*rotate_principal_vertical(u, v, w), w)
    inside = (u.abs() < 1.0) & (v.abs() < 1.0)
    img = jet_images(x, mask, ImagesConfig(normalise=False))
    torch.testing.assert_close(img.sum((1, 2)), (w * inside).sum(-1))
    norm = jet_images(x, mask)
    torch.testing.assert_close(norm.sum((1, 2)), torch.ones(16, dtype=x.dtype))
    torch.testing.assert_close(norm, img / img.sum((1, 2), keepdim=True))


@pytest.mark.parametrize("alpha", [0.3, 1.9, -2.5])
@pytest.mark.parametrize("reflect", [False, True])
def test_rotated_and_reflected_jets_give_the_same_image(alpha, reflect):
    x, mask = dense_jets(16)
    ref = jet_images(x, mask)
    got = jet_images(rotated(x, alpha, reflect), mask)
    # float64 inputs: pixel assignments agree exactly up to round-off at pixel edges
    torch.testing.assert_close(got, ref, atol=1e-9, rtol=0)
    # without the preprocessing the images differ
    assert not torch.allclose(
        jet_images(rotated(x, alpha, reflect), mask, RAW), jet_images(x, mask, RAW)
    )


def test_global_phi_rotation_and_eta_reflection_of_the_event():
    cons = toy_jets(12, 5, n_prongs=3, mean_constituents=25.0)
    ref = jet_images(*map(torch.from_numpy, to_dense(cons, max_n=60)))
    phi = np.mod(cons.phi + 3.0 + np.pi, 2 * np.pi) - np.pi  # wraps across ±π
    moved = ak.zip({"pt": cons.pt, "eta": -cons.eta, "phi": phi})
    got = jet_images(*map(torch.from_numpy, to_dense(moved, max_n=60)))
    torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)


def test_padding_and_constituent_order_are_ignored():
    x, mask = dense_jets(8, max_n=80)
    ref = jet_images(x, mask)
    pad_x = torch.cat([x, torch.rand(8, 9, 3, dtype=x.dtype) + 0.5], 1)  # garbage padding
    pad_m = torch.cat([mask, torch.zeros(8, 9, dtype=torch.bool)], 1)
    torch.testing.assert_close(jet_images(pad_x, pad_m), ref, atol=1e-12, rtol=0)
    perm = torch.randperm(pad_x.shape[1], generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(jet_images(pad_x[:, perm], pad_m[:, perm]), ref, atol=1e-12, rtol=0)


def test_numpy_in_numpy_out_and_float32():
    x, mask = dense_jets(4)
    out = jet_images(x.numpy(), mask.numpy())
    assert isinstance(out, np.ndarray) and out.shape == (4, 25, 25)
    np.testing.assert_allclose(out, jet_images(x, mask).numpy())
    f32 = jet_images(x.float(), mask)
    assert f32.dtype == torch.float32
    assert (f32 - jet_images(x, mask)).abs().sum((1, 2)).max() < 1e-5  # no pixel moved


def test_augmentation_only_with_a_generator_and_seeded():
    x, mask = dense_jets(8)
    cfg = ImagesConfig(augment=True, rotate=False, flip=False)
    plain = jet_images(x, mask, cfg)
    a = jet_images(x, mask, cfg, torch.Generator().manual_seed(1))
    b = jet_images(x, mask, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, plain)
    # with rotate and flip on, the augmentation is removed again by the preprocessing
    full = ImagesConfig(augment=True)
    torch.testing.assert_close(
        jet_images(x, mask, full, torch.Generator().manual_seed(1)),
        jet_images(x, mask),
        atol=1e-9,
        rtol=0,
    )
