"""``image_folder``: class sub-folders of train/ and val/, streamed from disk by a DataLoader,
resized / cropped / normalised, reproducible from a generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from compressor import data
from compressor.errors import DataError

from ..helpers import IMAGE_CLASSES, make_image_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images"), train=5, val=2, size=(20, 28))


def _all(split, batch_size=4, **kwargs):
    return [(x.clone(), y.clone()) for x, y in split.batches(batch_size, **kwargs)]


def test_info_counts_classes_and_takes_the_size(folder):
    info = data.dataset_info("image_folder", directory=str(folder), image_size=[16, 24])
    assert (info.num_classes, info.channels, info.image_size, info.hw) == (3, 3, (16, 24), (16, 24))
    assert data.dataset_info("image_folder", directory=str(folder), image_size=12).image_size == 12
    assert "image_folder" in data.dataset_names()


def test_batches_have_the_size_and_the_labels(folder):
    split = data.load_folder_split(str(folder), "train", image_size=[16, 24], workers=0)
    assert len(split) == 15 and split.classes == list(IMAGE_CLASSES) and split.num_batches(4) == 4
    batches = _all(split, shuffle=False)
    assert [x.shape for x, _ in batches] == [(4, 3, 16, 24)] * 3 + [(3, 3, 16, 24)]
    labels = torch.cat([y for _, y in batches])
    assert labels.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert split.num_batches(4, limit_batches=2) == 2
    assert len(_all(split, shuffle=False, limit_batches=2)) == 2
    test = data.load_folder_split(str(folder), "test", image_size=16, workers=0)
    assert len(test) == 6 and _all(test, shuffle=False)[0][0].shape == (4, 3, 16, 16)


def test_normalisation_uses_mean_and_std(tmp_path):
    root = make_image_folder(tmp_path, train=1, val=1, size=(8, 8))
    grey = Image.fromarray(np.full((8, 8, 3), 51, dtype=np.uint8))  # 0.2 in [0, 1]
    grey.save(root / "train" / "ant" / "train_000.png")
    split = data.load_folder_split(str(root), "train", image_size=8, mean=[0.1, 0.2, 0.3],
                                   std=[0.5, 0.5, 0.25], workers=0)
    x, y = next(iter(split.batches(1, shuffle=False)))
    assert y.tolist() == [0]
    torch.testing.assert_close(x[0, :, 2, 2], torch.tensor([0.2, 0.0, -0.4]), atol=1e-6, rtol=0)


def test_images_are_read_from_disk_batch_by_batch(tmp_path):
    root = make_image_folder(tmp_path, train=1, val=1, size=(8, 8))
    split = data.load_folder_split(str(root), "train", image_size=8, mean=[0, 0, 0], std=[1, 1, 1],
                                   workers=0)
    path = root / "train" / "cat" / "train_000.png"
    Image.fromarray(np.full((8, 8, 3), 255, dtype=np.uint8)).save(path)  # after loading the split
    x, _ = _all(split, batch_size=3, shuffle=False)[0]
    assert torch.all(x[2] == 1.0), "the image was read when its batch was made"


@pytest.mark.parametrize("workers", [0, 2])
def test_epoch_order_and_augmentation_come_from_the_generator(folder, workers):
    split = data.load_folder_split(str(folder), "train", image_size=[12, 16], augment=True, workers=workers)

    def epoch(seed):
        torch.manual_seed(123)  # with 0 workers the crops come from torch's global generator
        return _all(split, shuffle=True, generator=torch.Generator().manual_seed(seed))

    a, b, c = epoch(7), epoch(7), epoch(8)
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))
    assert not all(torch.equal(y1, y2) for (_, y1), (_, y2) in zip(a, c))


def test_limit_keeps_every_class(folder):
    split = data.load_folder_split(str(folder), "train", image_size=8, limit=6, workers=0)
    labels = torch.cat([y for _, y in split.batches(6, shuffle=False)])
    assert len(split) == 6 and sorted(set(labels.tolist())) == [0, 1, 2]


def test_mistakes_are_data_errors(tmp_path, folder):
    with pytest.raises(DataError, match="does not exist"):
        data.dataset_info("image_folder", directory=str(tmp_path / "nope"), image_size=8)
    with pytest.raises(DataError, match="needs data.image_size"):
        data.dataset_info("image_folder", directory=str(folder), image_size=None)
    with pytest.raises(DataError, match="needs data.dir"):
        data.dataset_info("image_folder", directory=None, image_size=8)
    with pytest.raises(DataError, match=r"image_size must be an integer or \[height, width\]"):
        data.dataset_info("image_folder", directory=str(folder), image_size=[1, 2, 3])
    bad = make_image_folder(tmp_path / "bad", train=1, val=1)
    (bad / "val" / "bee").rename(bad / "val" / "bird")
    with pytest.raises(DataError, match=r"different classes \(only in train: \['bee'\]; only in val: "
                                        r"\['bird'\]\)"):
        data.dataset_info("image_folder", directory=str(bad), image_size=8)
    (bad / "val").rename(bad / "validation")
    with pytest.raises(DataError, match="val not found"):
        data.dataset_info("image_folder", directory=str(bad), image_size=8)
