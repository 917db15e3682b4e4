"""The CLIP tokenizer of SD1.5 and SDXL, built offline.

``CLIPTokenizer.from_pretrained`` fetches ``vocab.json`` and ``merges.txt`` from a model hub.
Both derive from OpenAI's BPE merge list, which ``open-clip-torch`` ships as
``bpe_simple_vocab_16e6.txt.gz``: the vocabulary is the 256 byte symbols, the same with the
end-of-word marker, one token per merge (49,152 - 256 - 2 of them) and the two special tokens,
in that order, exactly as OpenAI's ``SimpleTokenizer`` builds it. The file is read where pip put
it, without importing ``open_clip`` (whose import pulls in torchvision).
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import cache
from pathlib import Path

from likeness.errors import UnavailableError

BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
#: How many merges CLIP uses from the file (its vocabulary is 49,408 tokens).
MERGE_COUNT = 49152 - 256 - 2
START, END = "<|startoftext|>", "<|endoftext|>"


class TokenizerFilesMissingError(UnavailableError):
    """The CLIP BPE vocabulary is not installed."""


def bpe_vocabulary_path() -> Path:
    """Where open-clip-torch's BPE merge list lies (found without importing open_clip)."""
    spec = importlib.util.find_spec("open_clip")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / BPE_FILE
        if path.exists():
            return path
    raise TokenizerFilesMissingError(
        f"the CLIP tokenizer needs {BPE_FILE}, which open-clip-torch ships: install it with "
        "`pip install --no-deps open-clip-torch` (make setup does this)"
    )


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map of bytes to printable unicode symbols."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, codes), strict=True))


@cache
def clip_vocabulary() -> tuple[dict[str, int], list[str]]:
    """(token -> id, merges as "a b" lines), the same as OpenAI's and the hub's files."""
    with gzip.open(bpe_vocabulary_path()) as f:
        lines = f.read().decode("utf-8").split("\n")
    merges = lines[1 : MERGE_COUNT + 1]  # the first line is a version header
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += ["".join(m.split()) for m in merges]
    tokens += [START, END]
    return {t: i for i, t in enumerate(tokens)}, merges


def clip_tokenizer(pad_token: str = END, max_length: int = 77):
    """A ``transformers.CLIPTokenizer`` equal to the one SD1.5 (pad ``<|endoftext|>``) and
    SDXL's second encoder (pad ``!``) load from the hub."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocabulary()
    return CLIPTokenizer(
        vocab=dict(vocab),
        merges=[tuple(m.split()) for m in merges],
        pad_token=pad_token,
        model_max_length=max_length,
    )
