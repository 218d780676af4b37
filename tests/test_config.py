import pytest

from cyclegan import config as config_lib


def test_presets_are_valid_and_differ_where_documented():
    tutorial, paper, demo = (config_lib.preset(n) for n in ("tutorial", "paper", "demo"))
    assert (tutorial.generator, tutorial.gan_loss, tutorial.epochs) == ("unet", "bce", 40)
    assert (tutorial.load_size, tutorial.crop_size, tutorial.resize_method) == (286, 256, "nearest")
    assert (paper.generator, paper.gan_loss, paper.epochs, paper.decay_epochs) == (
        "resnet",
        "lsgan",
        100,
        100,
    )
    assert paper.total_epochs == 200
    assert (tutorial.leaky_relu_slope, paper.leaky_relu_slope) == (0.3, 0.2)
    assert demo.crop_size < tutorial.crop_size


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
    assert config.epochs == 5 and config.learning_rate == 1e-3
    assert config.random_flip is False and config.steps_per_epoch is None
    assert config.gan_loss == "lsgan"


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("epoch=5", "unknown config key 'epoch'"),
        ("epochs=five", "epochs takes a value of type int"),
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


def test_describe_marks_only_changed_fields():
    lines = config_lib.preset("tutorial").replace(epochs=3).describe().splitlines()
    marked = [line.split()[1] for line in lines if line.startswith(" *")]
    assert marked == ["epochs"]


def test_dict_round_trip_and_unknown_keys():
    config = config_lib.preset("paper")
    assert config_lib.Config.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown config keys"):
        config_lib.Config.from_dict({"bogus": 1})
