"""What the runners share: the one way they stop on an error, config from flags, output
folders."""

import argparse

import pytest

from cyclegan.entry import DataError, UsageError
from pipeline import cli


def _flags(*argv):
    parser = argparse.ArgumentParser()
    cli.add_common_flags(parser, default_data="synthetic")
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    "error", [UsageError("--gpu-count must be >= 1"), DataError("no images in trainA")]
)
def test_usage_and_data_errors_are_one_line_and_exit_code_2(capsys, error):
    @cli.reports_errors
    def main(argv=None):
        raise error

    assert main([]) == 2
    assert capsys.readouterr().err == f"error: {error}\n"


def test_other_errors_keep_their_traceback():
    @cli.reports_errors
    def main(argv=None):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        main([])


def test_config_comes_from_the_preset_and_the_overrides():
    config = cli.resolve_config(
        _flags("--preset", "paper", "--set", "epochs=3", "--set", "generator_filters=8")
    )
    assert (config.train.generator, config.train.epochs, config.train.generator_filters) == (
        "resnet",
        3,
        8,
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ("epochs=many", "epochs takes a value of type int"),
        ("no_such_key=1", "no_such_key"),
        ("crop_size=300", "crop_size <= load_size"),
    ],
)
def test_a_bad_override_is_a_usage_error(override, message):
    with pytest.raises(UsageError, match=message):
        cli.resolve_config(_flags("--set", override))


def test_a_config_file_lies_between_the_preset_and_the_overrides(tmp_path):
    # A whole config as a run writes it comes back as it was.
    written = cli.resolve_config(_flags("--preset", "paper", "--set", "train.epochs=7"))
    whole = tmp_path / "config.json"
    whole.write_text(written.to_json())
    assert cli.resolve_config(_flags("--config", str(whole))) == written
    # A partial file changes only what it names; --set comes last.
    part = tmp_path / "part.json"
    part.write_text('{"train": {"epochs": 20, "learning_rate": 1e-4}, "grid_images": 2}')
    config = cli.resolve_config(
        _flags("--preset", "demo", "--config", str(part), "--set", "learning_rate=5e-5")
    )
    demo = cli.resolve_config(_flags("--preset", "demo"))
    assert config == demo.replace(epochs=20, learning_rate=5e-5, grid_images=2)


@pytest.mark.parametrize(
    "text, message",
    [
        (None, "--config {path}: No such file or directory"),
        ("{not json", "--config {path}: not JSON"),
        ("[1]", "--config {path}: a JSON object of config sections"),
        ('{"train": {"epochs": "ten"}}', "train.epochs takes int, got 'ten'"),
    ],
)
def test_a_bad_config_file_is_a_usage_error(tmp_path, text, message):
    path = tmp_path / "config.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(UsageError) as error:
        cli.resolve_config(_flags("--config", str(path)))
    assert message.format(path=path) in str(error.value)


def test_output_folder_is_created_or_refused_with_the_reason(tmp_path):
    cli.check_output_dir(str(tmp_path / "new" / "out"))
    assert (tmp_path / "new" / "out").is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="it exists and is not a folder"):
        cli.check_output_dir(str(tmp_path / "file"))
