"""A tiny randomly initialised BERT with a WordPiece vocabulary trained on the fly (Hugging Face
``tokenizers``), saved as a Hugging Face model directory, so transformer tests never load the packaged 90 MB
MiniLM. Pass the directory as ``encoder=<dir>``."""

from __future__ import annotations

from pathlib import Path

import torch

SENTENCES = [
    "patient admitted with community acquired pneumonia of the right lower lobe",
    "history of type 2 diabetes mellitus without complications and essential hypertension",
    "chest x ray shows bilateral pleural effusion no pneumothorax",
    "acute kidney injury resolved creatinine back to baseline",
    "chronic obstructive pulmonary disease with acute exacerbation treated with steroids",
    "no evidence of deep vein thrombosis family history of heart failure",
    "atrial fibrillation rate controlled on metoprolol anticoagulated with apixaban",
    "urinary tract infection due to escherichia coli treated with ceftriaxone",
]
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_tiny_encoder(out_dir: Path, *, hidden: int = 32, layers: int = 2, heads: int = 4, seed: int = 0) -> Path:
    """Train a WordPiece vocabulary on :data:`SENTENCES`; save a BERT tokenizer over it and a random
    ``BertModel`` (``hidden`` wide, ``layers`` deep) to ``out_dir``."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(SENTENCES, vocab_size=200, min_frequency=1, special_tokens=SPECIAL_TOKENS)
    vocab = wordpiece.get_vocab()  # token -> id
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=512)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def write_tiny_roberta(out_dir: Path, *, hidden: int = 32, layers: int = 2, heads: int = 4, seed: int = 0) -> Path:
    """A directory shaped like the released RoBERTa-base-PM-M3-Voc-hf: ``config.json`` (model type roberta),
    weights, and the byte-level BPE files ``vocab.json`` + ``merges.txt`` with no tokenizer config, so the
    tokenizer is found from the config as for the real one. Tiny and random: a BPE trained on
    :data:`SENTENCES`, a random ``RobertaModel`` with RoBERTa's 514 positions."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(SENTENCES, vocab_size=300, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])  # fmt: skip
    bpe.save_model(str(out_dir))  # vocab.json, merges.txt
    special = {token: bpe.token_to_id(token) for token in ("<s>", "<pad>", "</s>")}
    config = RobertaConfig(
        vocab_size=bpe.get_vocab_size(),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=514,
        pad_token_id=special["<pad>"],
        bos_token_id=special["<s>"],
        eos_token_id=special["</s>"],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = RobertaModel(config)
    model.save_pretrained(out_dir)
    return out_dir
