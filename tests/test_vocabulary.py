"""Known prompts: how familiar a prompt is to a pipeline's training captions."""

from __future__ import annotations

import logging

import pytest

from gen3d.vocabulary import KnownPrompts

CAPTIONS = [
    "a tall red wooden chair with four legs",
    "a small blue ceramic mug with a handle",
    "a green glass bottle with a cork",
    "a white porcelain vase with a narrow neck",
]


@pytest.fixture(scope="module")
def text_encoder():
    from gen3d.conditioning import TextEncoder

    return TextEncoder()


def test_familiar_prompts_are_told_from_strangers(text_encoder, tmp_path) -> None:
    known = KnownPrompts.build(text_encoder, CAPTIONS * 2 + ["  "])  # repeats, blanks dropped
    assert sorted(known.captions) == sorted(CAPTIONS)
    chair, horse = known.familiarity(text_encoder.encode(["a wooden chair", "a horse"]).pooled)
    assert chair.familiar and chair.closest == CAPTIONS[0] and chair.similarity > 0.6
    assert not horse.familiar and horse.similarity < 0.5
    loaded = KnownPrompts.load(known.save(tmp_path).parent)
    assert loaded.captions == known.captions and loaded.threshold == known.threshold
    again = loaded.familiarity(text_encoder.encode(["a wooden chair"]).pooled)[0]
    assert again.closest == chair.closest and abs(again.similarity - chair.similarity) < 1e-2
    assert KnownPrompts.load(tmp_path / "nothing-here") is None
    with pytest.raises(ValueError, match="no captions"):
        KnownPrompts.build(text_encoder, ["", " "])


def test_the_pipeline_records_familiarity_and_warns(
    tiny_pipeline, text_encoder, tmp_path, caplog
) -> None:
    from gen3d.pipeline import Pipeline

    tiny_pipeline.known_prompts = KnownPrompts.build(text_encoder, CAPTIONS)
    try:
        folder = tiny_pipeline.save_pretrained(tmp_path / "pipe")
    finally:
        tiny_pipeline.known_prompts = None
    pipe = Pipeline.from_pretrained(folder, device="cpu")
    assert pipe.known_prompts is not None
    with caplog.at_level(logging.WARNING, logger="gen3d.pipeline"):
        chair, horse = pipe(
            prompt=["a wooden chair", "a horse"], seed=1, steps=2, texture_size=0, resolution=48
        )
    assert chair.metadata["familiarity"]["closest_known_caption"] == CAPTIONS[0]
    assert horse.metadata["familiarity"]["similarity"] < 0.5
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "'a horse' is unlike anything" in warnings[0]
