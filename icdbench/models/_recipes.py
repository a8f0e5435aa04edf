"""Published training recipes several model families share, for their ``train_defaults`` (RunConfig keys).

A family states only where its paper departs from the recipe it follows, e.g.
``{**MULLENBACH_BASELINE, "optim.lr": 1e-4}``, with a comment naming the paper the value comes from.
"""

from __future__ import annotations

# Mullenbach et al. 2018 (NAACL), the CNN and Bi-GRU baselines of CAML's paper as the authors' MIMIC-III scripts
# run them: Adam 0.003, batch 16, no weight decay, up to 100 epochs at a constant rate, binary cross-entropy,
# early stopping with patience 10, documents truncated to 2,500 tokens. CAML and MultiResCNN keep all of it
# but the rate and the epoch budget.
MULLENBACH_BASELINE = {
    "optim.optimizer": "adam",
    "optim.lr": 3e-3,
    "optim.batch_size": 16,
    "optim.weight_decay": 0.0,
    "optim.epochs": 100,
    "optim.schedule": "constant",
    "train.loss": "bce",
    "train.patience": 10,
    "data.max_tokens": 2500,
}

# The usual BERT fine-tuning recipe: AdamW 5e-5, batch 8 (2 documents x 4 accumulated steps), 20 epochs, a
# linear warm-up over the first 10% of the steps, then linear decay.
BERT_FINE_TUNING = {
    "optim.optimizer": "adamw",
    "optim.lr": 5e-5,
    "optim.batch_size": 2,
    "optim.accumulate": 4,
    "optim.epochs": 20,
    "optim.schedule": "linear",
    "optim.warmup": 0.1,
}
