import time

import pytest

from benchmarks import quality


def test_quality_benchmark_says_what_data_it_needs(tmp_path):
    with pytest.raises(SystemExit, match="no horse2zebra at .*missing.*--data DIR"):
        quality.main(["--data", str(tmp_path / "missing")])


def test_quality_table_puts_the_untranslated_scores_first():
    values = {
        "domain_score_ab": 0.8,
        "domain_score_ba": 0.7,
        "cycle_l1_aba": 0.1,
        "cycle_l1_bab": 0.2,
        "domain_score_ab_untranslated": 0.1,
        "domain_score_ba_untranslated": 0.05,
    }
    header, untranslated, first, last = quality.format_table(
        [(0, 0.0, values), (2000, 3.5, values)], epoch_steps=1000
    ).splitlines()
    assert untranslated.split() == ["untranslated", "0.100", "0.050", "-", "-"]
    assert last.split() == ["2000", "2.0", "3.5", "0.800", "0.700", "0.100", "0.200"]


def test_step_profile_finds_the_convolutions_of_a_real_step(capsys):
    from benchmarks import profile_step

    profile_step.main(["--size", "32", "--steps", "1", "--top", "40"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ours step at 32 px:")
    rows = {line.split()[0]: float(line.split()[2].rstrip("%")) for line in lines[2:-1]}
    # A training step runs convolutions forward and backward; the shares cover the step.
    assert any("Conv2DBackpropFilter" in op for op in rows)
    assert any(op.endswith("Conv2D") for op in rows)
    assert 99.0 <= sum(rows.values()) + float(lines[-1].split()[-1].rstrip("%")) <= 101.0


def _run(precision, seed, scores, minutes_per_row=1.0):
    """A quality.Run whose evaluations score `scores` in every column, one a minute."""
    rows = [
        (i * 100, i * minutes_per_row, dict.fromkeys(quality.COLUMNS, score))
        for i, score in enumerate(scores)
    ]
    return quality.Run(precision, seed, rows)


def test_time_to_quality_waits_for_three_evaluations_in_a_row_at_the_target():
    # Evaluations after step 0, one a minute: 0.2 0.9 0.3 | 0.6 0.7 0.8 0.75 0.65
    run = _run("float32", 0, [0.1, 0.2, 0.9, 0.3, 0.6, 0.7, 0.8, 0.75, 0.65])
    assert run.minutes_to(0.45) == 3.0  # (0.2 + 0.9 + 0.3) / 3: one high score is not enough
    assert run.minutes_to(0.5) == 4.0  # (0.9 + 0.3 + 0.6) / 3
    assert run.minutes_to(0.7) == 6.0  # (0.6 + 0.7 + 0.8) / 3
    assert run.minutes_to(0.8) is None
    assert run.ms_per_step == 8 * 60_000 / 800
    table = quality.format_time_to_quality([run])
    assert table.splitlines()[1].split()[-2:] == ["4.0", "6.0"]


def test_late_mean_averages_the_last_quarter_after_step_0():
    run = _run("float32", 0, [9.0, 0, 0, 0, 0, 0, 0, 1.0, 3.0])  # 8 evaluations after step 0
    assert run.late_mean("cycle_l1_aba") == 2.0


def test_parity_holds_unless_worse_than_the_reference_runs_spread():
    f32 = [_run("float32", 0, [0, 0.60]), _run("float32", 1, [0, 0.70])]  # spread 0.10
    close = [_run("mixed_bfloat16", 0, [0, 0.62]), _run("mixed_bfloat16", 1, [0, 0.74])]
    far = [_run("mixed_bfloat16", 0, [0, 0.75]), _run("mixed_bfloat16", 1, [0, 0.81])]
    table, holds = quality.parity(f32 + close)  # means 0.65 and 0.68: 0.03 apart
    assert holds and "mixed_bfloat16 no worse?" in table
    # 0.13 higher in every column: better domain scores, but cycle L1s worse by 0.13 > 0.10
    table, holds = quality.parity(f32 + far)
    assert not holds and table.splitlines()[-1].split()[-4:] == ["OUT", "0.130", "OUT", "0.130"]
    # Better than the reference beyond its spread (scores up, L1s down) is parity.
    better = [
        quality.Run("mixed_bfloat16", seed, [(0, 0.0, {}), (100, 1.0, columns)])
        for seed, columns in enumerate(
            [
                {"domain_score_ab": 0.9, "domain_score_ba": 0.9, "cycle_l1_aba": 0.3},
                {"domain_score_ab": 0.9, "domain_score_ba": 0.9, "cycle_l1_aba": 0.3},
            ]
        )
    ]
    for run in better:
        run.rows[1][2]["cycle_l1_bab"] = 0.3
    table, holds = quality.parity(f32 + better)
    assert holds, table


def _tensorflows_count(model, size: int) -> int:
    """TensorFlow's own FLOP statistics (what tf.profiler sums), over the forward graph's
    convolution and product ops."""
    import tensorflow as tf
    from tensorflow.python.framework import ops
    from tensorflow.python.profiler.internal import flops_registry  # noqa: F401 (registers)

    graph = (
        tf.function(lambda x: model(x, training=False))
        .get_concrete_function(tf.TensorSpec([1, size, size, 3]))
        .graph
    )
    counted = {"Conv2D", "Conv2DBackpropInput", "MatMul", "BatchMatMulV2"}
    return sum(
        int(ops.get_stats_for_node_def(graph, op.node_def, "flops").value)
        for op in graph.get_operations()
        if op.type in counted
    )


def _our_count(model, size: int) -> int:
    import tensorflow as tf

    from benchmarks import roofline

    with roofline.counting_flops([model]) as counted:
        model(tf.zeros([1, size, size, 3]), training=False)
    return sum(counted)


@pytest.mark.parametrize("preset_name", ["tutorial", "paper"])
def test_flops_counted_from_the_layers_are_tensorflows_count(monkeypatch, preset_name):
    from cyclegan import networks
    from cyclegan.config import preset

    config = preset(preset_name).replace(
        crop_size=32, load_size=32, generator_filters=8, discriminator_filters=8, resnet_blocks=2
    )
    build = [
        lambda: networks.generator(config, "g"),
        lambda: networks.patchgan_discriminator(config, "d"),
    ]
    with_products = [_our_count(make(), 32) for make in build]
    # Small maps are computed as matrix products (einsum, which TF's statistics do not
    # cover): count with TF's convolution ops everywhere, then compare.
    monkeypatch.setattr(networks, "MATMUL_MAX_SIZE", 0)
    monkeypatch.setattr(networks, "TRANSPOSED_MATMUL_MAX_SIZE", 0)
    for make, ours in zip(build, with_products):
        model = make()
        assert ours == _our_count(model, 32) == _tensorflows_count(model, 32) > 0


def test_a_steps_flops_count_each_pass_its_math_runs():
    """3 passes (forward, input and weight gradients) for every network call, and for each
    discriminator's call on generated images a second input-gradient pass (the generators'
    loss): 4; with an image pool the fakes' call runs forward and input gradients only."""
    from benchmarks import roofline
    from cyclegan.config import preset
    from cyclegan.model import CycleGan

    for pool_size, discriminator_passes in ((0, 3 + 4), (3, 3 + 2 + 3)):
        model = CycleGan(preset("demo").replace(crop_size=32, load_size=32, pool_size=pool_size))
        g, d = _our_count(model.g_ab, 32), _our_count(model.d_a, 32)
        expected = 6 * 3 * g + 2 * discriminator_passes * d
        assert roofline.step_flops(model, 32) == expected


def test_the_step_runs_two_input_gradient_passes_through_a_discriminator_on_fakes():
    """What the count's 4 passes for the discriminators on fakes stand on: the step's graph
    has, for the discriminator's widest layer, two input-gradient convolutions for the call
    on generated images (one per loss) and one for the call on real images."""
    import tensorflow as tf

    from cyclegan.config import preset
    from cyclegan.model import CycleGan

    model = CycleGan(preset("tutorial").replace(crop_size=32, load_size=32))
    images = tf.zeros([1, 32, 32, 3])
    graph = (
        tf.function(lambda: model.compute_gradients(images, images, 1))
        .get_concrete_function()
        .graph
    )
    widest = max(
        (layer for layer in model.d_a.submodules if hasattr(layer, "kernel")),
        key=lambda layer: layer.kernel.shape.num_elements(),
    )
    input_gradients = [
        op.name
        for op in graph.get_operations()
        if op.type == "Conv2DBackpropInput" and f"discriminator_a/{widest.name}/" in op.name
    ]
    calls = sorted({name.split(f"{widest.name}/")[1].split("/")[0] for name in input_gradients})
    per_call = [sum(f"/{call}/" in name for name in input_gradients) for call in calls]
    assert sorted(per_call) == [1, 2]


def test_the_timeline_draws_idle_and_busy_cores_apart():
    from benchmarks import ingest

    assert ingest.format_timeline([0.0, 0.1, 1.0, 2.0, 2.3], cores=2) == "  =##"


def test_the_core_sampler_sees_a_busy_core():
    from benchmarks import ingest

    sampler = ingest.CoreSampler(interval=0.01)
    sampler.start()
    start = time.process_time()
    while time.process_time() - start < 0.2:  # 0.2 s of one core's work
        pass
    busy = sampler.stop()
    assert len(busy) >= 2 and max(busy) > 0.5
