"""``--profile paper`` runs each transformer model with its paper's encoder: found in ``$ICDBENCH_ENCODERS`` under
its published name or given as a directory; missing, it is one line naming it and where to get it; any other
encoder is a substitution that the record and every leaderboard row say."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_encoder import write_tiny_roberta

from icdbench.errors import UserError
from icdbench.models.encoders import KNOWN_ENCODERS, encoder_record
from icdbench.models.registry import all_models
from icdbench.results.cells import _model_cell
from icdbench.results.leaderboard import build_row
from icdbench.results.render import csv_fields
from icdbench.results.sources import LoadedRecord
from icdbench.training.run import RunRequest, train

# A run small enough for a test; the encoder and everything else come from the paper profile.
SMALL = ["optim.epochs=1", "optim.batch_size=8", "optim.accumulate=1", "data.max_train_docs=16",
         "data.segment_length=32", "data.max_segments=2", "train.logger=none"]  # fmt: skip
PUBLISHED = {"plm-icd": "roberta-pm-m3-voc", "hmhan": "bio-clinicalbert", "hmhan-nosmote": "bio-clinicalbert",
             "bert-cls": "bio-clinicalbert", "bert-attn": "bio-clinicalbert", "bert-xml": "bert-xml-ehr"}


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No encoders folder and an empty Hugging Face cache: only what a test puts in place is found."""
    monkeypatch.delenv("ICDBENCH_ENCODERS", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))


def test_every_encoder_model_defaults_to_its_papers_encoder():
    found = {name: vars(spec.default_config()).get("encoder") for name, spec in all_models().items()}
    assert {name: encoder for name, encoder in found.items() if encoder is not None} == PUBLISHED
    assert set(PUBLISHED.values()) <= set(KNOWN_ENCODERS)


@pytest.mark.parametrize("model, published, where", [("plm-icd", "roberta-pm-m3-voc", "bio-lm"),
                                                     ("hmhan", "bio-clinicalbert", "emilyalsentzer/Bio_ClinicalBERT"),
                                                     ("bert-xml", "bert-xml-ehr", "never released")])
def test_paper_profile_without_the_published_encoder_is_one_line(run_env, offline, model, published, where):
    with pytest.raises(UserError) as error:
        train(RunRequest(model, "synth-tiny", "paper", overrides=SMALL))
    message = str(error.value)
    assert "\n" not in message and published in message and where in message and "model.encoder=minilm" in message
    assert not (run_env[1] / "synth-tiny" / model).exists()  # nothing written


def test_plm_icd_trains_from_a_roberta_directory_in_the_encoders_folder(run_env, offline, tmp_path, monkeypatch):
    """The path a real RoBERTa-base-PM-M3-Voc-hf takes: $ICDBENCH_ENCODERS/<published name>, the tokenizer found
    from its config.json (byte-level BPE vocab.json + merges.txt), segments wrapped in <s> ... </s>."""
    write_tiny_roberta(tmp_path / "encoders" / "RoBERTa-base-PM-M3-Voc-hf")
    monkeypatch.setenv("ICDBENCH_ENCODERS", str(tmp_path / "encoders"))
    record = train(RunRequest("plm-icd", "synth-tiny", "paper", overrides=SMALL)).record
    assert record.encoder.to_dict() == {"name": "roberta-pm-m3-voc", "published": "roberta-pm-m3-voc",
                                        "substituted": False, "architecture": "roberta, 2 layers, 32 wide"}  # fmt: skip
    assert record.config["model"]["encoder"] == "roberta-pm-m3-voc"
    assert record.metrics.full["micro_f1"] is not None
    row = build_row([LoadedRecord(record, Path("record.json"), "runs")])
    assert row.encoder_substituted == "" and "substituted" not in _model_cell(row).text


def test_a_directory_given_as_the_encoder_is_the_users_encoder(tmp_path):
    directory = write_tiny_roberta(tmp_path / "my-roberta")
    assert encoder_record(str(directory), "roberta-pm-m3-voc") == {
        "name": "my-roberta", "published": "roberta-pm-m3-voc", "substituted": False,
        "architecture": "roberta, 2 layers, 32 wide"}  # fmt: skip
    # BERT-XML's EHR-pretrained BERT was never released: whatever runs in its place is a substitute
    assert encoder_record(str(directory), "bert-xml-ehr")["substituted"]


def test_a_substituted_encoder_is_said_by_the_record_and_every_board_row(run_env, offline):
    record = train(RunRequest("plm-icd", "synth-tiny", "paper", overrides=[*SMALL, "model.encoder=tiny-random"])).record
    assert record.encoder.substituted and record.encoder.published == "roberta-pm-m3-voc"
    row = build_row([LoadedRecord(record, Path("record.json"), "runs")])
    assert row.encoder_substituted == "tiny-random for roberta-pm-m3-voc"
    assert _model_cell(row).text.endswith("(encoder substituted: tiny-random for roberta-pm-m3-voc)")
    assert "encoder_substituted" in csv_fields()
