"""Trigger geometry and formulas: each attack changes exactly what it claims to."""

from __future__ import annotations

import numpy as np
import pytest

from gssd_utils.attacks import build_attack

SHAPE = (32, 32, 3)


def _images(n=8, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (n, *SHAPE), dtype=np.uint8)


def test_badnets_gssd_patch_is_the_official_2x2_block_and_nothing_else():
    x = _images()
    out = build_attack("badnets", SHAPE).apply(x)
    changed = np.any(out != x, axis=(0, 3))
    assert set(zip(*np.nonzero(changed), strict=True)) <= {(4, 4), (4, 5), (5, 4), (5, 5)}
    np.testing.assert_array_equal(out[:, 4, 4], np.tile([180, 249, 112], (len(x), 1)))
    np.testing.assert_array_equal(out[:, 5, 5], np.tile([187, 201, 219], (len(x), 1)))
    mask = np.ones((32, 32), bool)
    mask[4:6, 4:6] = False
    np.testing.assert_array_equal(out[:, mask], x[:, mask])


def test_badnets_corner_variant_stamps_the_bottom_right_grid():
    x = _images()
    out = build_attack("badnets", SHAPE, params={"variant": "corner3x3"}).apply(x)
    grid = np.array([[0, 0, 255], [0, 255, 0], [255, 0, 255]])
    for c in range(3):
        np.testing.assert_array_equal(out[:, 29:, 29:, c], np.broadcast_to(grid, (len(x), 3, 3)))
    np.testing.assert_array_equal(out[:, :29], x[:, :29])
    np.testing.assert_array_equal(out[:, :, :29], x[:, :, :29])


def test_blend_follows_the_formula_with_round_and_clip():
    attack = build_attack("blend", SHAPE, seed=3, params={"alpha": 0.2})
    x = _images()
    expected = np.clip(np.rint(0.8 * x.astype(np.float64) + 0.2 * attack.trigger), 0, 255)
    np.testing.assert_array_equal(attack.apply(x), expected.astype(np.uint8))


def test_blend_noise_trigger_is_seeded():
    a = build_attack("blend", SHAPE, seed=5).trigger
    b = build_attack("blend", SHAPE, seed=5).trigger
    c = build_attack("blend", SHAPE, seed=6).trigger
    np.testing.assert_array_equal(a, b)
    assert np.mean(a != c) > 0.9


def test_blend_accepts_a_user_image(tmp_path):
    from PIL import Image

    path = tmp_path / "trigger.png"
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(path)
    attack = build_attack("blend", SHAPE, params={"image": str(path), "alpha": 0.5})
    out = attack.apply(np.zeros((1, *SHAPE), np.uint8))
    np.testing.assert_array_equal(out, np.full((1, *SHAPE), 100, np.uint8))


def test_wanet_with_zero_strength_is_the_identity():
    x = _images()
    np.testing.assert_array_equal(build_attack("wanet", SHAPE, params={"s": 0.0}).apply(x), x)


def test_wanet_warp_is_smooth_seeded_and_moves_pixels():
    x = _images()
    a, b = build_attack("wanet", SHAPE, seed=0), build_attack("wanet", SHAPE, seed=0)
    np.testing.assert_array_equal(a.artifacts()["grid"], b.artifacts()["grid"])
    assert not np.array_equal(a.apply(x), x)
    assert not np.array_equal(a.grid, build_attack("wanet", SHAPE, seed=1).grid)
    # displacement is s * noise / H with noise normalised to mean |.| = 1: sub-pixel on average
    displacement = np.abs(a.noise_grid.numpy()) * 0.5 / 32 * 16  # in pixels (grid spans 2 units over 32 px)
    assert 0.05 < displacement.mean() < 1.0


def test_chessboard_amplitude_and_parity():
    attack = build_attack("chessboard", SHAPE)
    x = np.full((2, *SHAPE), 100, np.uint8)
    diff = attack.apply(x).astype(int) - x
    rows, cols = np.indices((32, 32))
    even = (rows + cols) % 2 == 0
    assert np.all(diff[:, even] == 3) and np.all(diff[:, ~even] == 0)
    odd = build_attack("chessboard", SHAPE, params={"parity": 1}).apply(x).astype(int) - x
    assert np.all(odd[:, ~even] == 3) and np.all(odd[:, even] == 0)


def test_chessboard_clips_at_white():
    x = np.full((1, *SHAPE), 254, np.uint8)
    assert build_attack("chessboard", SHAPE).apply(x).max() == 255


@pytest.mark.parametrize("name", ["badnets", "blend", "wanet", "chessboard"])
def test_every_attack_keeps_uint8_shape(name):
    x = _images(3)
    out = build_attack(name, SHAPE).apply(x)
    assert out.dtype == np.uint8 and out.shape == x.shape
