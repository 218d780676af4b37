import pytest

from cyclegan import config as config_lib


def test_presets_are_valid_and_differ_where_documented():
    tutorial, paper, demo = (config_lib.preset(n) for n in ("tutorial", "paper", "demo"))
    assert (tutorial.train.generator, tutorial.train.gan_loss, tutorial.train.epochs) == (
        "unet",
        "bce",
        40,
    )
    assert (tutorial.data.load_size, tutorial.data.crop_size, tutorial.data.resize_method) == (
        286,
        256,
        "nearest",
    )
    assert (
        paper.train.generator,
        paper.train.gan_loss,
        paper.train.epochs,
        paper.train.decay_epochs,
    ) == (
        "resnet",
        "lsgan",
        100,
        100,
    )
    assert paper.train.total_epochs == 200
    assert (tutorial.train.leaky_relu_slope, paper.train.leaky_relu_slope) == (0.3, 0.2)
    assert demo.data.crop_size < tutorial.data.crop_size


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="demo"):
        config_lib.preset("nope")


def test_overrides_are_typed():
    config = config_lib.apply_overrides(
        config_lib.preset("demo"),
        [
            "epochs=5",
            "learning_rate=1e-3",
            "random_flip=false",
            "steps_per_epoch=none",
            "gan_loss=lsgan",
        ],
    )
    assert config.train.epochs == 5 and config.train.learning_rate == 1e-3
    assert config.train.random_flip is False and config.train.steps_per_epoch is None
    assert config.train.gan_loss == "lsgan"


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("epoch=5", "unknown config key 'epoch'"),
        ("epochs=five", "train.epochs takes a value of type int"),
        ("seed=3", "in several sections; write one of train.seed, classifier.seed"),
        ("evaluation.epochs=3", "unknown config key 'evaluation.epochs'"),
        ("epochs", "key=value"),
        ("random_flip=maybe", "true/false"),
        ("gan_loss=wgan", "gan_loss must be one of"),
        ("crop_size=300", "crop_size <= load_size"),
        ("crop_size=48", "power-of-two"),
    ],
)
def test_bad_overrides_say_what_is_wrong(assignment, message):
    with pytest.raises(ValueError, match=message):
        config_lib.apply_overrides(config_lib.preset("demo"), [assignment])


def test_section_keys_flat_keys_and_old_names_reach_the_same_field():
    demo = config_lib.preset("demo")
    dotted = config_lib.apply_overrides(
        demo, ["train.epochs=3", "evaluation.min_domain_score=0.6", "classifier.seed=4"]
    )
    flat = config_lib.apply_overrides(demo, ["epochs=3", "bless_min_domain_score=0.6"])
    assert (dotted.train.epochs, dotted.evaluation.min_domain_score) == (3, 0.6)
    assert (flat.train.epochs, flat.evaluation.min_domain_score) == (3, 0.6)
    assert dotted.classifier.seed == 4 and dotted.train.seed == demo.train.seed
    assert demo.replace(domain_classifier_steps=7).classifier.steps == 7


def test_describe_marks_only_changed_fields():
    lines = config_lib.preset("tutorial").replace(epochs=3).describe().splitlines()
    marked = [line.split()[1] for line in lines if line.startswith(" *")]
    assert marked == ["train.epochs"]


def test_dict_round_trip_partial_overlays_and_bad_values():
    config = config_lib.preset("paper")
    assert config_lib.Config.from_dict(config.to_dict()) == config
    assert set(config.to_dict(config_lib.TRAINER_SECTIONS)) == {
        "data",
        "train",
        "observability",
        "export",
    }
    # A part of a config lies over a base; the rest of the base stays.
    longer = config_lib.Config.from_dict({"train": {"epochs": 20, "learning_rate": 1}}, config)
    assert longer == config.replace(epochs=20, learning_rate=1.0)
    with pytest.raises(ValueError, match="unknown config key 'bogus'"):
        config_lib.Config.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="train.epochs takes int, got 'ten'"):
        config_lib.Config.from_dict({"train": {"epochs": "ten"}})
    with pytest.raises(ValueError, match="train.random_flip takes bool, got 1"):
        config_lib.Config.from_dict({"train": {"random_flip": 1}})
    assert config_lib.Config.from_dict({"train": {"init_from": None}}).train.init_from is None
