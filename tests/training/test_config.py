"""Config resolution: layer order, profiles for every registered model, one-line errors for bad input."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from icdbench.config import profile_layers, resolve_config
from icdbench.errors import UserError
from icdbench.models.registry import all_models, get_model

PROFILES = ("paper", "cpu", "ci")


@pytest.mark.parametrize("profile", PROFILES)
def test_every_registered_model_resolves_under_every_profile(profile):
    for name, spec in all_models().items():
        resolved = resolve_config(spec, split="synth-tiny", profile=profile)
        assert OmegaConf.get_type(resolved.cfg.model) is spec.config, name
        assert len(resolved.hash) == 64


@pytest.mark.parametrize("profile", PROFILES)
def test_a_profile_keeps_every_variant_of_a_family_distinct(profile):
    """A profile shrinks sizes; it must not erase what tells apart the variants one builder registers (a
    family-wide setting once gave rac-noperm the permutations it exists to drop: a copy of rac-noswa)."""
    by_config: dict[str, str] = {}
    for name, spec in all_models().items():
        cfg = OmegaConf.to_container(resolve_config(spec, split="synth-tiny", profile=profile, seed=0).cfg)
        key = f"{spec.build.__module__}.{spec.build.__qualname__}:{sorted(cfg.items())!r}"
        assert key not in by_config, f"{name} resolves to the same {profile} config as {by_config[key]}"
        by_config[key] = name


def test_paper_profile_keeps_published_settings():
    spec = get_model("caml")
    cfg = resolve_config(spec, split="synth-icd10", profile="paper").cfg
    for key, value in spec.train_defaults.items():
        assert OmegaConf.select(cfg, key) == value, key
    for key, value in vars(spec.default_config()).items():
        assert cfg.model[key] == value, key


def test_layers_apply_in_order_and_are_kept(tmp_path, monkeypatch):
    """defaults < train_defaults < profile (default < family) < experiment < command line < --seed."""
    profiles = tmp_path / "profiles"
    experiments = tmp_path / "experiments" / "synth-x"
    profiles.mkdir()
    experiments.mkdir(parents=True)
    (profiles / "p.yaml").write_text(
        "experiments: true\n"
        "default: {optim: {lr: 0.5, epochs: 7}, data: {max_tokens: 100}}\n"
        "family: {caml: {optim: {lr: 0.25}, model: {num_filters: 9}}}\n"
    )
    (experiments / "caml.yaml").write_text("optim: {epochs: 11}\nmodel: {kernel_size: 3}\n")
    monkeypatch.setenv("ICDBENCH_SETTINGS", str(tmp_path))
    spec = get_model("caml")
    resolved = resolve_config(spec, split="synth-x", profile="p", overrides=["data.max_tokens=50"], seed=4)
    cfg = resolved.cfg
    assert cfg.optim.lr == 0.25  # family section beats default section (and train_defaults' 1e-4)
    assert cfg.optim.epochs == 11  # experiment beats profile
    assert cfg.data.max_tokens == 50  # command line beats profile and train_defaults
    assert cfg.model.num_filters == 9 and cfg.model.kernel_size == 3
    assert cfg.train.patience == 10  # from caml's train_defaults, untouched by later layers
    assert cfg.train.monitor == "auto"  # no model fixes its monitor: it is chosen for the split
    assert cfg.seed == 4
    assert [layer.source for layer in resolved.layers] == [
        "caml defaults",
        "caml train_defaults",
        "profile p (default)",
        "profile p (family.caml)",
        "experiment synth-x/caml",
        "command line",
        "--seed",
    ]


def test_only_a_profile_that_says_so_reads_the_experiments(tmp_path, monkeypatch):
    """The shrunken profiles keep their sizes on a split with published settings; ``paper`` reads them."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "experiments" / "synth-x").mkdir(parents=True)
    (tmp_path / "profiles" / "small.yaml").write_text("default: {optim: {epochs: 2}}\n")
    (tmp_path / "profiles" / "bad.yaml").write_text("experiments: sometimes\n")
    (tmp_path / "experiments" / "synth-x" / "caml.yaml").write_text("optim: {epochs: 11}\n")
    monkeypatch.setenv("ICDBENCH_SETTINGS", str(tmp_path))
    resolved = resolve_config(get_model("caml"), split="synth-x", profile="small")
    assert resolved.cfg.optim.epochs == 2
    assert not any(layer.source.startswith("experiment") for layer in resolved.layers)
    with pytest.raises(UserError, match="experiments must be true or false"):
        resolve_config(get_model("caml"), split="synth-x", profile="bad")


def test_profile_sections_select_by_input_family_and_name():
    layers = profile_layers("ci", get_model("caml"))
    sources = [layer.source for layer in layers]
    assert sources[0] == "profile ci (default)" and "profile ci (inputs.words)" in sources
    assert not any("segments" in s for s in sources)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["model.no_such_field=1"], "unknown config key 'model.no_such_field' (from command line)"),
        (["optim.lrr=1"], "did you mean optim.lr?"),
        (["optim.lr=fast"], "config key 'optim.lr' expects float, got 'fast'"),
        (["optim.epochs=2.5"], "config key 'optim.epochs' expects int"),
        (["train.loss=hinge"], "config key 'train.loss' expects"),
        (["optim.lr"], "is not key=value"),
        (["train.monitor=val/nothing"], "train.monitor='val/nothing' is not logged"),
        (["optim.batch_size=0"], "optim.batch_size must be positive"),
        (["train.max_steps=0"], "train.max_steps must be positive or null"),
    ],
)
def test_bad_overrides_are_one_line_user_errors(overrides, needle):
    with pytest.raises(UserError) as info:
        resolve_config(get_model("caml"), split="synth-tiny", profile="ci", overrides=overrides)
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_unknown_profile_lists_the_available_ones():
    with pytest.raises(UserError, match="unknown profile 'huge'; available: ci, cpu, paper"):
        resolve_config(get_model("caml"), split="synth-tiny", profile="huge")


def test_same_inputs_give_the_same_hash_and_a_change_another():
    spec = get_model("cnn")
    first = resolve_config(spec, split="synth-tiny", profile="ci").hash
    assert resolve_config(spec, split="synth-tiny", profile="ci").hash == first
    assert resolve_config(spec, split="synth-tiny", profile="ci", overrides=["optim.lr=0.1"]).hash != first
