"""Loaders on small sheets and arrays that the tests make; the shared DawnLike copy when present."""
import numpy as np
import pytest
import torch
from PIL import Image

from ddpm import CLASSES, load_course_npy, load_png_folder, load_sheets, load_sprites
from ddpm.data import composite_on_white, dawnlike_class, random_hflip, to_tensor, to_uint8


def make_sheet(path, n_full=3, n_sparse=1, cols=4, rows=2):
    sheet = np.zeros((rows * 16, cols * 16, 4), np.uint8)  # transparent
    for i in range(n_full):
        r, c = divmod(i, cols)
        sheet[r * 16:(r + 1) * 16, c * 16:(c + 1) * 16] = (200, 10 * i, 30, 255)
    r, c = divmod(n_full, cols)
    sheet[r * 16, c * 16:c * 16 + n_sparse] = (0, 0, 0, 255)  # too few opaque pixels: an empty tile
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet, "RGBA").save(path)


def test_sheets_are_cut_composited_and_labelled(tmp_path):
    make_sheet(tmp_path / "Characters" / "Player0.png", n_full=2)
    make_sheet(tmp_path / "Characters" / "Dog0.png", n_full=3)
    make_sheet(tmp_path / "Items" / "Food.png", n_full=1)
    make_sheet(tmp_path / "Items" / "ShortWep.png", n_full=2)
    make_sheet(tmp_path / "Items" / "Key.png", n_full=1)
    s = load_sheets(tmp_path)
    assert s.images.shape == (9, 16, 16, 3) and s.images.dtype == np.uint8
    names = sorted(CLASSES[i] for i in s.labels)
    assert names == sorted(["creature"] * 3 + ["food"] + ["hero"] * 2 + ["item"] + ["weapon"] * 2)
    assert (s.images[0, 0, 0] == (200, 0, 30)).all()


def test_half_transparent_pixel_goes_toward_white():
    px = np.array([[[0, 0, 0, 0], [0, 0, 0, 255], [0, 0, 0, 128]]], np.uint8)
    out = composite_on_white(px)
    assert out[0, 0].tolist() == [255] * 3 and out[0, 1].tolist() == [0] * 3
    assert out[0, 2].tolist() == [127] * 3


def test_dawnlike_classes_follow_source_txt():
    from pathlib import Path
    cases = {"Commissions/Mage.png": "hero", "Characters/Player1.png": "hero", "Characters/Undead0.png": "creature",
             "Items/Flesh.png": "food", "Items/Potion.png": "weapon", "Objects/Effect1.png": "weapon", "Items/Armor.png": "item"}
    for rel, name in cases.items():
        assert CLASSES[dawnlike_class(Path(rel))] == name


def test_course_npy(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 16, 16, 3), dtype=np.uint8)
    labels = np.eye(5)[[0, 1, 2, 3, 4, 0, 1]]
    np.save(tmp_path / "sprites_1788_16x16.npy", images)
    np.save(tmp_path / "sprite_labels_nc_1788_16x16.npy", labels)
    s = load_sprites(tmp_path / "sprites_1788_16x16.npy")
    assert np.array_equal(s.images, images)
    assert s.labels.tolist() == [0, 1, 2, 3, 4, 0, 1]
    np.save(tmp_path / "bad.npy", labels)
    with pytest.raises(ValueError):
        load_course_npy(tmp_path / "bad.npy", tmp_path / "sprite_labels_nc_1788_16x16.npy")


def test_png_folder(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(tmp_path / f"s{i}.png")
    s = load_sprites(tmp_path)
    assert len(s) == 3 and (s.labels == -1).all()
    assert s.images[2, 5, 5].tolist() == [80] * 3
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match="16"):
        load_png_folder(tmp_path)


def test_tensor_round_trip_and_flip():
    images = np.random.default_rng(1).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    x = to_tensor(images)
    assert x.shape == (4, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert np.array_equal(to_uint8(x), images)
    flipped = random_hflip(x, torch.Generator().manual_seed(0))
    for a, b in zip(flipped, x):
        assert torch.equal(a, b) or torch.equal(a, b.flip(-1))


def test_shared_dawnlike(shared_data):
    s = load_sprites(shared_data)
    counts = np.bincount(s.labels, minlength=5)
    assert 2400 < len(s) < 2700  # SOURCE.txt: 1454 + 692 + 105 + about 300
    assert all(counts > 50)
    assert s.images[:, 0, 0].mean() > 200  # white background
