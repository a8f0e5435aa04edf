"""Board rows say when a run used another encoder than its paper's, also for records made before records had
an ``encoder`` block (0.2.0: the encoder is only in the config)."""

from icdbench.results.leaderboard import encoder_block, encoder_substitution


def _old_record(model: str, encoder: str | None) -> dict:
    model_config = {"encoder": encoder} if encoder else {"embed_dim": 64}
    return {"model": model, "config": {"model": model_config}}


def test_an_old_record_with_the_packaged_encoder_reads_substituted():
    assert encoder_substitution([_old_record("plm-icd", "minilm")]) == "minilm for roberta-pm-m3-voc"


def test_an_old_record_with_the_published_encoder_is_not_substituted():
    block = encoder_block(_old_record("plm-icd", "roberta-pm-m3-voc"))
    assert block["substituted"] is False
    assert encoder_substitution([_old_record("plm-icd", "roberta-pm-m3-voc")]) == ""


def test_a_model_without_an_encoder_has_no_block():
    assert encoder_block(_old_record("caml", None)) == {}


def test_the_recorded_block_wins_over_the_config():
    record = {**_old_record("plm-icd", "minilm"), "encoder": {"name": "x", "published": "y", "substituted": True}}
    assert encoder_substitution([record]) == "x for y"
