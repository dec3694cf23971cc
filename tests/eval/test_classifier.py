"""The category classifier learns to tell simple shapes apart and round-trips to disk."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from gen3d.eval.classifier import PointCloudClassifier, accuracy, train_classifier

MAKERS = {
    "box": lambda s: trimesh.creation.box(extents=(s, s * 0.6, s * 1.4)),
    "sphere": lambda s: trimesh.creation.icosphere(radius=s / 2),
    "rod": lambda s: trimesh.creation.cylinder(radius=s / 8, height=s * 1.6),
}


def _clouds(count: int, seed: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    clouds, labels = [], []
    for index in range(count):
        name = list(MAKERS)[index % len(MAKERS)]
        mesh = MAKERS[name](rng.uniform(0.6, 1.2))
        points, _ = trimesh.sample.sample_surface(mesh, 1200, seed=int(rng.integers(1 << 30)))
        clouds.append(points)
        labels.append(name)
    return np.asarray(clouds, dtype=np.float32), labels


def test_classifier_learns_simple_categories_and_round_trips(tmp_path) -> None:
    train, train_labels = _clouds(90, seed=0)
    test, test_labels = _clouds(30, seed=1)
    model = train_classifier(train, train_labels, epochs=12, batch_size=16, width=32, lr=3e-3)
    assert model.categories == ["box", "rod", "sphere"]
    assert accuracy(model, test, test_labels) >= 0.9

    loaded = PointCloudClassifier.from_pretrained(model.save_pretrained(tmp_path / "clf"))
    assert accuracy(loaded, test, test_labels) == accuracy(model, test, test_labels)
    assert loaded.classify_mesh(trimesh.creation.icosphere(radius=0.4)) == "sphere"


def test_classifier_refuses_bad_inputs(tmp_path) -> None:
    with pytest.raises(ValueError, match="two categories"):
        PointCloudClassifier(["only"])
    with pytest.raises(FileNotFoundError, match="train one"):
        PointCloudClassifier.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="no faces"):
        PointCloudClassifier(["a", "b"]).classify_mesh(trimesh.Trimesh())


def test_the_shipped_classifier_names_procedural_shapes() -> None:
    from gen3d.cli.evaluate import DEFAULT_CLASSIFIER
    from gen3d.data.procedural import generate_shape, list_categories
    from gen3d.mesh import extract_hierarchical

    classifier = PointCloudClassifier.from_pretrained(DEFAULT_CLASSIFIER)
    assert sorted(classifier.categories) == sorted(list_categories())
    # Seeds far from the training set's (dataset builds count seeds up from 0).
    for category in ("chair", "mug", "lighthouse", "sword"):
        mesh = extract_hierarchical(generate_shape(category, 900_001), 96).mesh
        assert classifier.classify_mesh(mesh) == category
