from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

IMAGES = Path(__file__).parent / "images"
PHOTOS = ["ladybird_64x48.png", "citrus_77x53.png", "path_96x64.png"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def load_photo(name: str) -> np.ndarray:
    with Image.open(IMAGES / name) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(params=PHOTOS)
def photo(request: pytest.FixtureRequest) -> np.ndarray:
    return load_photo(request.param)


@pytest.fixture(scope="session")
def small_photo() -> np.ndarray:
    return load_photo("ladybird_64x48.png")


@pytest.fixture(scope="session")
def small_l3c(small_photo: np.ndarray) -> bytes:
    import pillow_l3c

    return pillow_l3c.encode(small_photo)


@pytest.fixture(scope="session")
def citrus() -> np.ndarray:
    return load_photo("citrus_77x53.png")


@pytest.fixture(scope="session")
def storm() -> np.ndarray:
    return load_photo("storm_256x192.png")
