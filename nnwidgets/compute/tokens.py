"""Token ids as text: a vocabulary in any form, padding found and skipped.

Id 0 is padding (Keras' convention: ``Embedding(mask_zero=True)``,
``TextVectorization`` and ``pad_sequences`` all pad with 0).
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np

PAD = 0


def as_vocabulary(vocabulary) -> Callable[[int], str] | None:
    """A function from id to text, from a list (``TextVectorization.get_vocabulary()``),
    a dict (id to word, or word to id as in a tokenizer's ``word_index``) or a callable.

    >>> as_vocabulary(["", "[UNK]", "movie"])(2)
    'movie'
    >>> as_vocabulary({"movie": 2})(2)
    'movie'
    >>> as_vocabulary(None) is None
    True
    """
    if vocabulary is None:
        return None
    if callable(vocabulary) and not isinstance(vocabulary, (dict, list, tuple)):
        return lambda i: str(vocabulary(int(i)))
    if isinstance(vocabulary, dict):
        if vocabulary and all(isinstance(k, str) for k in vocabulary):
            table = {int(v): k for k, v in vocabulary.items()}
        else:
            table = {int(k): str(v) for k, v in vocabulary.items()}
        return lambda i: table.get(int(i), f"#{int(i)}")
    if isinstance(vocabulary, (list, tuple, np.ndarray)):
        words = [str(w) for w in vocabulary]
        return lambda i: words[int(i)] if 0 <= int(i) < len(words) else f"#{int(i)}"
    raise TypeError(
        "vocabulary must be a list (id -> word), a dict (id -> word or word -> id) or a "
        f"callable from id to text; got {type(vocabulary).__name__}"
    )


def spans(ids, pad: int = PAD) -> list[tuple[int, int, bool]]:
    """Runs of ``ids`` as ``(start, stop, is_padding)``.

    >>> spans([0, 0, 5, 6, 0])
    [(0, 2, True), (2, 4, False), (4, 5, True)]
    """
    ids = np.asarray(ids).reshape(-1)
    out: list[tuple[int, int, bool]] = []
    start = 0
    for i in range(1, ids.size + 1):
        if i == ids.size or (ids[i] == pad) != (ids[start] == pad):
            out.append((start, i, bool(ids[start] == pad)))
            start = i
    return out


def tokens_html(ids, vocabulary=None, limit: int = 400) -> str:
    """Token ids as words (or ids), padding shown as one dimmed note per run, long
    texts cut after ``limit`` tokens; wraps, and scrolls past a few lines."""
    ids = np.asarray(ids).reshape(-1)
    word = vocabulary or (lambda i: str(int(i)))
    parts, shown = [], 0
    for start, stop, pad in spans(ids):
        if pad:
            where = "pre-" if start == 0 else "post-" if stop == ids.size else ""
            parts.append(
                f'<span class="nnw-pad" style="opacity:.45;font-style:italic">'
                f"[{stop - start} {where}padding]</span>"
            )
            continue
        for i in range(start, stop):
            if shown == limit:
                break
            parts.append(
                f'<span class="nnw-token" title="position {i}, id {int(ids[i])}">'
                f"{html.escape(word(ids[i]))}</span>"
            )
            shown += 1
    real = int(np.sum(ids != PAD))
    if shown < real:
        parts.append(f'<span style="opacity:.6">\u2026 {real - shown} more tokens</span>')
    text = " ".join(parts)
    return (
        '<div class="nnw-tokens" style="font-size:13px;line-height:1.5;max-height:150px;'
        f'overflow-y:auto;white-space:normal;word-break:break-word">{text}</div>'
    )
