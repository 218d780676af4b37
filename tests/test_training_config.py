"""TrainingConfig: a run's partial overlay of the compiled Trainer config."""

import json

import pytest

from components.training_config import executor
from cyclegan import config as config_lib
from tests.helpers import tiny_config

COMPILED = json.dumps(tiny_config().to_dict(config_lib.TRAINER_SECTIONS))


def test_an_overlay_changes_only_what_it_names():
    compiled = config_lib.Config.from_dict(json.loads(COMPILED))
    assert executor.resolve(COMPILED, "") == compiled
    longer = executor.resolve(COMPILED, '{"train": {"epochs": 20}, "summary_every_steps": 7}')
    assert longer == compiled.replace(epochs=20, summary_every_steps=7)
    assert longer.train.generator_filters == 4 and longer.data.crop_size == 32  # compiled


@pytest.mark.parametrize(
    "overlay, message",
    [
        (
            '{"data": {"crop_size": 64}}',
            "training_config cannot change data.crop_size: the data section is compiled into "
            "ExampleGen, Preprocess and the serving signature; compile the pipeline again with "
            "--set data.KEY=VALUE",
        ),
        ('{"load_size": 64}', "cannot change load_size: the data section"),
        ('{"evaluation": {"min_domain_score": 0.9}}', "compiled into the Evaluator"),
        ('{"train": {"epochs": "many"}}', "train.epochs takes int, got 'many'"),
        ('{"train": {"epoch": 2}}', "unknown config key 'train.epoch'"),
        ("[1, 2]", "training_config takes a JSON object"),
        ("{epochs: 2}", "training_config is not JSON"),
    ],
)
def test_what_a_run_cannot_change_is_refused_in_one_line(overlay, message):
    with pytest.raises(ValueError) as refused:
        executor.resolve(COMPILED, overlay)
    assert message in str(refused.value) and "\n" not in str(refused.value)
