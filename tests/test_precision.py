"""train.precision=auto: the choice on faked devices, and what it does to the model."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from cyclegan import precision
from cyclegan.model import CycleGan

AVX512_CPU = {"avx512f", "avx512bw", "fma"}


@pytest.mark.parametrize(
    "cpu, gpus, policy, reason_part",
    [
        (AVX512_CPU | {"avx512_bf16"}, [], "mixed_bfloat16", "avx512_bf16"),
        # AMX: bfloat16 missed quality parity on horse2zebra (benchmarks/quality.py)
        (AVX512_CPU | {"avx512_bf16", "amx_bf16", "amx_tile"}, [], "float32", "AMX"),
        ({"amx_bf16", "amx_tile"}, [], "float32", "pin train.precision=mixed_bfloat16"),
        (AVX512_CPU, [], "float32", "neither AVX512_BF16 nor AMX"),
        (set(), [], "float32", "neither"),
        (AVX512_CPU, [(8, 0)], "mixed_bfloat16", "compute capability 8.0"),
        (AVX512_CPU, [(9, 0), (8, 6)], "mixed_bfloat16", "8.6"),
        (AVX512_CPU, [(7, 5)], "mixed_float16", "losses are scaled"),
        (AVX512_CPU, [(8, 0), (7, 0)], "mixed_float16", "7.0"),  # the lowest decides
        ({"avx512_bf16"}, [(6, 1)], "float32", "no fast half precision"),  # GPUs train
    ],
)
def test_auto_picks_what_the_hardware_computes_fastest(cpu, gpus, policy, reason_part):
    choice = precision.choose(cpu, gpus)
    assert choice.policy == policy and reason_part in choice.reason


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\nbugs\t: none\n")
    assert precision.cpu_flags(str(cpuinfo)) == {"fpu", "avx512f", "avx512_bf16"}
    assert precision.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_cpu_description_names_the_model_and_its_vector_units(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert precision.cpu_description(str(cpuinfo)) == (
        "AMD EPYC; AVX-512: yes; bfloat16: avx512_bf16"
    )
    cpuinfo.write_text("model name\t: AMD EPYC\nflags\t\t: fpu avx2\n")
    assert precision.cpu_description(str(cpuinfo)) == (
        "AMD EPYC; AVX-512: no; bfloat16: none (emulated)"
    )
    assert precision.cpu_description(str(tmp_path / "missing")).startswith("unknown CPU;")


def test_a_pinned_precision_is_kept(monkeypatch):
    monkeypatch.setattr(precision, "_detected", lambda: pytest.fail("detected a pinned one"))
    assert precision.resolve("float32") == precision.Choice("float32", "set in the config")


@pytest.fixture
def fake_machine(monkeypatch):
    """Sets the CPU flags and GPU capabilities `auto` sees."""

    def fake(cpu, gpus):
        monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(cpu))
        monkeypatch.setattr(precision, "gpu_capabilities", lambda: tuple(gpus))
        precision._detected.cache_clear()

    yield fake
    precision._detected.cache_clear()


@pytest.mark.parametrize(
    "cpu, gpus, compute_dtype, scaled",
    [
        ({"avx512_bf16"}, [], "bfloat16", False),
        (AVX512_CPU, [], "float32", False),
        (set(), [(7, 0)], "float16", True),
    ],
)
def test_auto_builds_the_networks_in_the_chosen_precision(
    fake_machine, tiny_config, cpu, gpus, compute_dtype, scaled
):
    fake_machine(cpu, gpus)
    model = CycleGan(tiny_config.replace(precision="auto", pool_size=2))
    assert {layer.compute_dtype for layer in model.g_ab.layers[1:-1]} == {compute_dtype}
    assert model.g_ab.output.dtype == tf.float32 and model.d_a.output.dtype == tf.float32
    assert model.pool_a.images.dtype == tf.float32  # the history holds float32 images
    losses = model.per_example_losses(*[tf.random.uniform([1, 32, 32, 3], -1, 1)] * 2)
    assert {loss.dtype for loss in losses.values()} == {tf.float32}
    assert model.d_a.trainable_variables[0].dtype == tf.float32  # variables stay float32
    is_scaled = isinstance(model.generator_optimizer, keras.mixed_precision.LossScaleOptimizer)
    assert is_scaled == scaled
    assert keras.mixed_precision.global_policy().name == "float32"  # left as it was


def test_a_model_trained_in_bfloat16_is_served_in_float32(tmp_path, tiny_config):
    from tests import helpers

    model = CycleGan(tiny_config.replace(precision="mixed_bfloat16"))
    step = tf.function(lambda a, b: model.train_step(a, b, 1))
    step(tf.random.uniform([1, 32, 32, 3], -1, 1), tf.random.uniform([1, 32, 32, 3], -1, 1))
    export_dir = helpers.export_model(model, tiny_config, str(tmp_path / "m"))
    loaded = tf.saved_model.load(export_dir)
    signature = loaded.signatures["translate_a_to_b_float"]
    images = tf.random.stateless_uniform([2, 32, 32, 3], [3, 4], -1, 1)
    served = signature(images=images)["images"]
    assert served.dtype == tf.float32
    # No op anywhere in the SavedModel (signatures and the functions they call) computes
    # in a half precision; the training model did.
    assert model.g_ab.layers[1].compute_dtype == "bfloat16"
    saved = saved_model_pb2.SavedModel.FromString(
        (Path(export_dir) / "saved_model.pb").read_bytes()
    )
    graph = saved.meta_graphs[0].graph_def
    nodes = [*graph.node, *(node for f in graph.library.function for node in f.node_def)]
    dtypes = {
        dtype
        for node in nodes
        for value in node.attr.values()
        for dtype in [value.type, *value.list.type]
    }
    assert types_pb2.DT_FLOAT in dtypes
    assert not dtypes & {types_pb2.DT_BFLOAT16, types_pb2.DT_HALF}
    # The same weights: within bfloat16's rounding of what the training model computes.
    trained = model.g_ab(images, training=False)
    np.testing.assert_allclose(served.numpy(), trained.numpy(), atol=0.05)
    assert not np.allclose(served.numpy(), 0.0, atol=1e-3)


def test_instance_norm_normalises_bfloat16_maps_without_casting_them():
    from cyclegan import networks

    with networks.built_in("mixed_bfloat16"):
        layer = networks.InstanceNormalization()
        layer.build([2, 8, 8, 4])
    maps = tf.cast(tf.random.stateless_normal([2, 8, 8, 4], [5, 6]) * 3 + 7, tf.bfloat16)
    graph = tf.function(layer).get_concrete_function(maps).graph
    assert not [op for op in graph.get_operations() if op.type == "Cast"]
    normalized = layer(maps)
    assert normalized.dtype == tf.bfloat16 and layer.scale.dtype == tf.float32
    reference = networks.InstanceNormalization()
    reference.build([2, 8, 8, 4])
    reference.set_weights(layer.get_weights())
    expected = reference(tf.cast(maps, tf.float32))  # float32 throughout
    np.testing.assert_allclose(tf.cast(normalized, tf.float32), expected, atol=0.03)
