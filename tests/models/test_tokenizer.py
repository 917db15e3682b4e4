"""The offline CLIP tokenizer tokenizes like OpenAI's original (open_clip's copy of it)."""

import importlib.util

import pytest

from likeness.models.tokenizer import BPE_FILE, bpe_vocabulary_path, clip_tokenizer

TEXTS = [
    "a photo of a cat",
    "A photo of lkqdvj person, head and shoulders, black and white photo",
    "@me and @alice hiking in the Alps, watercolor!!",
    "Ünïcödé café — naïve résumé 東京 🚀",
    "  multiple   spaces\tand\nnewlines  ",
    "hyphen-ated, don't, it's 1999's 3.14 e=mc^2",
]


def reference_tokenizer():
    """open_clip's SimpleTokenizer (OpenAI's code), loaded from its file: importing the
    open_clip package would pull in torchvision."""
    path = bpe_vocabulary_path().parent / "tokenizer.py"
    spec = importlib.util.spec_from_file_location("openai_clip_tokenizer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SimpleTokenizer()


def test_matches_openai_tokenizer_on_varied_text():
    ours = clip_tokenizer()
    ref = reference_tokenizer()
    for text in TEXTS:
        sot, eot = ref.all_special_ids  # OpenAI names them <start_of_text>, <end_of_text>
        expected = [sot, *ref.encode(text), eot]
        assert ours(text).input_ids == expected, text


def test_known_ids_and_padding():
    t = clip_tokenizer()
    assert len(t) == 49408
    assert t("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    padded = t("hi", padding="max_length", max_length=77).input_ids
    assert len(padded) == 77 and padded[-1] == 49407  # SD1.5 pads with <|endoftext|>
    sdxl_second = clip_tokenizer("!")("hi", padding="max_length", max_length=77).input_ids
    assert sdxl_second[3:] == [0] * 74  # SDXL's second tokenizer pads with "!" (id 0)


def test_missing_vocabulary_is_a_clear_error(monkeypatch):
    from likeness.models import tokenizer

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(tokenizer.TokenizerFilesMissingError, match=BPE_FILE):
        tokenizer.bpe_vocabulary_path()
