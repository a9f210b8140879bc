"""A stand-in sentiment model for throughput only: random weights in the shape of
XLM-RoBERTa base (12 layers, hidden 768, 12 heads: the shape of the multilingual
twitter-xlm-roberta-base-sentiment), with a WordPiece tokenizer trained on the bench's
own texts, splitting them about as finely as XLM-R's tokenizer splits tweets
(`STANDIN_VOCAB`). Nothing is downloaded. Its labels are meaningless; its speed is the
speed of a base-size model on this CPU for texts of that many tokens, which is what the
enrich stage's throughput depends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

STANDIN_VOCAB = 750
"""Word pieces of the stand-in tokenizer. A model's time grows with the tokens of a text,
and a vocabulary learnt from the bench's few templates would keep nearly every word whole
(1.2 tokens per word); with 750 pieces the bench's posts split into about 1.5 tokens per
word, as a multilingual tokenizer such as XLM-R's splits real tweets (an estimate: about
29 tokens for TweetEval's 19.4 words)."""


def build_standin(folder: Path, texts: Sequence[str], seed: int = 0) -> Path:
    """Write the model and tokenizer to ``folder`` (created) and return it."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import (
        PreTrainedTokenizerFast,
        XLMRobertaConfig,
        XLMRobertaForSequenceClassification,
    )

    special = ["<pad>", "<s>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.WordPiece(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=STANDIN_VOCAB, special_tokens=special)
    )
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
    )
    fast.model_max_length = 512
    torch.manual_seed(seed)
    config = XLMRobertaConfig(  # type: ignore[call-arg]  # num_labels etc. go to the base
        vocab_size=len(fast),
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=514,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2},
    )
    folder.mkdir(parents=True, exist_ok=True)
    XLMRobertaForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
