"""Board rows say when a run used another encoder than its paper's, also for records made before records had
an ``encoder`` block (0.2.0: the encoder is only in the config)."""

from fake_records import fake_record

from icdbench.results.leaderboard import encoder_block, encoder_substitution
from icdbench.results.record import Encoder, RunRecord


def _old_record(model: str, configured: str | None, **fields) -> RunRecord:
    record = fake_record(model)
    record["config"]["model"] = {"encoder": configured} if configured else {"embed_dim": 64}
    return RunRecord.from_dict({**record, **fields})


def test_an_old_record_with_the_packaged_encoder_reads_substituted():
    assert encoder_substitution([_old_record("plm-icd", "minilm")]) == "minilm for roberta-pm-m3-voc"


def test_an_old_record_with_the_published_encoder_is_not_substituted():
    block = encoder_block(_old_record("plm-icd", "roberta-pm-m3-voc"))
    assert block.substituted is False and block.name == "roberta-pm-m3-voc"
    assert encoder_substitution([_old_record("plm-icd", "roberta-pm-m3-voc")]) == ""


def test_a_model_without_an_encoder_has_no_block():
    assert encoder_block(_old_record("caml", None)) == Encoder()


def test_the_recorded_block_wins_over_the_config():
    record = _old_record("plm-icd", "minilm", encoder={"name": "x", "published": "y", "substituted": True})
    assert encoder_substitution([record]) == "x for y"
