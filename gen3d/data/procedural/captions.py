"""Captions from a shape's sampled attributes, in several phrasings.

A text model trained on one template learns the template, not the words; so each shape gets
several phrasings that differ in word order, structure, synonyms and number style ("four
legs" / "4 legs"), all stating the same attributes. The first caption is always the plain
canonical one: "a tall red wooden chair with armrests and four legs".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .palette import MATERIAL_NOUNS

_NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()  # noqa: SIM905


@dataclass(frozen=True)
class Feature:
    """A "with ..." phrase. ``count`` fills ``{n}`` in ``text`` as a word or a digit;
    ``singular`` is the text for a count of one ("a seat cushion")."""

    text: str
    count: int | None = None
    singular: str | None = None

    def render(self, digits: bool = False) -> str:
        if self.count is None:
            return self.text
        if self.count == 1 and self.singular is not None:
            return self.singular
        n = (
            str(self.count)
            if digits or self.count >= len(_NUMBER_WORDS)
            else (_NUMBER_WORDS[self.count])
        )
        return self.text.format(n=n)


@dataclass(frozen=True)
class CaptionFacts:
    """Everything a caption may say about one shape."""

    noun: str
    synonyms: tuple[str, ...]
    adjectives: tuple[str, ...]  # size and shape words, in English adjective order
    kind: str | None  # the word that goes right before the noun: "double" bed, "pine" tree
    colour: str
    material: str | None
    features: tuple[Feature, ...]


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _join_and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _words(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


_Template = Callable[[CaptionFacts, str, list[str], np.random.Generator], str]


def _canonical(f: CaptionFacts, noun: str, feats: list[str], rng: np.random.Generator) -> str:
    head = _article(_words(*f.adjectives, f.colour, f.material, f.kind, noun))
    return head + (" with " + _join_and(feats) if feats else "")


def _tagged(f: CaptionFacts, noun: str, feats: list[str], rng: np.random.Generator) -> str:
    tags = [f.colour, *f.adjectives]
    if f.material:
        tags.append(MATERIAL_NOUNS[f.material])
    tags += [("with " + x) for x in feats]
    return f"{_words(f.kind, noun)}: " + ", ".join(tags)


def _made_of(f: CaptionFacts, noun: str, feats: list[str], rng: np.random.Generator) -> str:
    head = _article(_words(*f.adjectives, f.kind, noun))
    body = f" made of {f.colour} {MATERIAL_NOUNS[f.material]}" if f.material else f" in {f.colour}"
    return head + body + ("; it has " + _join_and(feats) if feats else "")


def _model_of(f: CaptionFacts, noun: str, feats: list[str], rng: np.random.Generator) -> str:
    head = "3d model of " + _article(_words(f.colour, *f.adjectives, f.material, f.kind, noun))
    return head + (", " + ", ".join(feats) if feats else "")


def _features_first(f: CaptionFacts, noun: str, feats: list[str], rng: np.random.Generator) -> str:
    adjectives = " and ".join(f.adjectives)
    head = _words(f.colour, f.material, f.kind, noun) + (f", {adjectives}" if adjectives else "")
    return head + (" with " + _join_and(feats) if feats else "")


_TEMPLATES: tuple[_Template, ...] = (_tagged, _made_of, _model_of, _features_first)


def compose_captions(facts: CaptionFacts, rng: np.random.Generator, count: int = 4) -> list[str]:
    """``count`` distinct phrasings of ``facts``; the first is the canonical one."""
    captions = [_canonical(facts, facts.noun, [x.render() for x in facts.features], rng)]
    order = rng.permutation(len(_TEMPLATES))
    for index in order:
        if len(captions) >= count:
            break
        nouns = (facts.noun, *facts.synonyms)
        noun = nouns[int(rng.integers(len(nouns)))]
        digits = bool(rng.random() < 0.5)
        feats = [x.render(digits) for x in facts.features]
        feats = [feats[i] for i in rng.permutation(len(feats))]
        caption = _TEMPLATES[index](facts, noun, feats, rng)
        if caption not in captions:
            captions.append(caption)
    return captions[:count]
