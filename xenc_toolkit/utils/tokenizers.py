"""A private copy of a transformers tokenizer's Rust tokenizer (name encoder and pair tokenizer)."""

from __future__ import annotations


def private_rust_tokenizer(tokenizer):
    """A copy of ``tokenizer.backend_tokenizer`` with truncation and padding off; ``None`` if it has none.

    The transformers wrapper sets truncation/padding on its backend at every call, so the shared
    backend's state depends on whoever called it last; a copy does not. Raises what ``tokenizers``
    raises if the tokenizer cannot be copied.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    from tokenizers import Tokenizer

    private = Tokenizer.from_str(backend.to_str())
    private.no_truncation()
    private.no_padding()
    return private
