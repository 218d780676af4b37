"""`python -m tests.fit_process DATA RUN CHECKPOINTS CONFIG_JSON`: train.fit() in a process of
its own, logging to stdout, for the tests that signal, kill or race trainers. DATA holds
trainA/ trainB/ testA/ testB/ preprocessed records (tests/helpers.write_pixel_records)."""

import json
import os
import sys

from cyclegan import entry

entry.prepare_process()

from cyclegan import train  # noqa: E402
from cyclegan.config import Config  # noqa: E402
from pipeline import cli  # noqa: E402

if __name__ == "__main__":
    data, run_dir, checkpoint_dir, config_json = sys.argv[1:]
    cli.configure_logging(verbose=False)
    splits = [os.path.join(data, split, "*") for split in ("trainA", "trainB", "testA", "testB")]
    train.fit(Config.from_dict(json.loads(config_json)), *splits, run_dir, checkpoint_dir)
