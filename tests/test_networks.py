import contextlib

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from cyclegan import networks
from cyclegan.config import preset


@pytest.mark.parametrize("generator", ["unet", "resnet"])
def test_generators_map_images_to_images_in_range(tiny_config, generator):
    config = tiny_config.replace(generator=generator, resnet_blocks=2)
    model = networks.generator(config, "g")
    images = tf.random.uniform([2, 32, 32, 3], -1, 1)
    out = model(images, training=False)
    assert out.shape == (2, 32, 32, 3)
    assert float(tf.reduce_max(tf.abs(out))) <= 1.0


def test_unet_depth_and_widths_follow_the_tutorial():
    assert networks.unet_filters(256, 64) == [64, 128, 256, 512, 512, 512, 512, 512]
    assert networks.unet_filters(32, 4) == [4, 8, 16, 32, 32]


def test_patchgan_gives_one_logit_per_patch(tiny_config):
    model = networks.patchgan_discriminator(tiny_config, "d")
    assert model(tf.zeros([1, 32, 32, 3])).shape == (1, 2, 2, 1)
    big = networks.patchgan_discriminator(tiny_config.replace(discriminator_filters=64), "d")
    assert big(tf.zeros([1, 256, 256, 3])).shape == (1, 30, 30, 1)  # the tutorial's 30x30


def test_instance_norm_makes_batching_exact(tiny_config):
    """The train step batches images through one call; that must equal separate calls."""
    model = networks.generator(tiny_config.replace(unet_dropout=0.0), "g")
    a, b = tf.random.uniform([1, 32, 32, 3], -1, 1), tf.random.uniform([1, 32, 32, 3], -1, 1)
    together = model(tf.concat([a, b], 0), training=True)
    separately = tf.concat([model(a, training=True), model(b, training=True)], 0)
    np.testing.assert_allclose(together.numpy(), separately.numpy(), atol=1e-5)


def test_instance_norm_normalises_each_sample_and_channel():
    layer = networks.InstanceNormalization()
    x = tf.random.normal([2, 8, 8, 3], mean=5.0, stddev=3.0)
    layer.build(x.shape)
    layer.scale.assign(tf.ones([3]))
    y = layer(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-3)


def _reference_instance_norm(x, scale, offset, epsilon=1e-5):
    """The tutorial's formula: moments over height and width, per image and channel."""
    mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    return scale * (x - mean) * tf.math.rsqrt(variance + epsilon) + offset


@pytest.mark.parametrize("affine", [True, False])
def test_fused_instance_norm_equals_the_formula_with_static_and_dynamic_batch(affine):
    layer = networks.InstanceNormalization(affine)
    x = tf.random.normal([3, 6, 5, 4], mean=2.0, stddev=3.0)
    layer.build(x.shape)
    scale = layer.scale if affine else 1.0
    offset = layer.offset if affine else 0.0
    expected = _reference_instance_norm(x, scale, offset)
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), atol=1e-4)
    dynamic = tf.function(layer, input_signature=[tf.TensorSpec([None, 6, 5, 4])])
    np.testing.assert_allclose(dynamic(x).numpy(), expected.numpy(), atol=1e-4)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(tf.sin(layer(x)))
        reference = tf.reduce_sum(tf.sin(_reference_instance_norm(x, scale, offset)))
    np.testing.assert_allclose(
        tape.gradient(ours, x).numpy(), tape.gradient(reference, x).numpy(), atol=1e-4
    )
    assert layer.trainable_weights == ([layer.scale, layer.offset] if affine else [])


def _parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_paper_preset_networks_have_the_papers_parameter_counts():
    # pytorch-CycleGAN-and-pix2pix prints 11.378 M for resnet_9blocks and 2.765 M for the
    # 70x70 PatchGAN (n_layers=3); these are the exact counts of those architectures.
    config = preset("paper")
    assert _parameters(networks.generator(config, "g")) == 11_378_179
    assert _parameters(networks.patchgan_discriminator(config, "d")) == 2_764_737


def test_tutorial_preset_networks_match_the_tutorial():
    config = preset("tutorial")
    # The tutorial's discriminator summary: 2,765,569 parameters.
    assert _parameters(networks.patchgan_discriminator(config, "d")) == 2_765_569
    generator = networks.generator(config, "g")
    dropouts = [
        layer
        for block in generator.layers
        if isinstance(block, tf.keras.Sequential)
        for layer in block.layers
        if isinstance(layer, tf.keras.layers.Dropout)
    ]
    assert [d.rate for d in dropouts] == [0.5, 0.5, 0.5]  # the first three up-blocks
    assert generator.output_shape == (None, 256, 256, 3)


@pytest.mark.parametrize(
    "transpose, size",
    [(False, 2), (False, 4), (False, 8), (False, 16), (True, 1), (True, 2), (True, 4), (True, 8)]
    + [(True, 16)],
)
@pytest.mark.parametrize("bias", [False, True])
def test_small_and_mid_map_convolutions_equal_keras_forward_and_backward(transpose, size, bias):
    """Maps up to (TRANSPOSED_)MATMUL_MAX_SIZE take the matrix-product path, maps up to
    WEIGHT_GRADIENT_MATMUL_MAX_SIZE a weight gradient by product; they must equal Keras' own
    layer, outputs and every gradient, with the same weights."""
    small = size <= (networks.TRANSPOSED_MATMUL_MAX_SIZE if transpose else networks.MATMUL_MAX_SIZE)
    assert size <= networks.WEIGHT_GRADIENT_MATMUL_MAX_SIZE
    ours_class, keras_class = (
        (networks.Conv2DTranspose, keras.layers.Conv2DTranspose)
        if transpose
        else (networks.Conv2D, keras.layers.Conv2D)
    )
    ours = ours_class(5, 4, strides=2, padding="same", use_bias=bias, bias_initializer="ones")
    reference = keras_class(5, 4, strides=2, padding="same", use_bias=bias)
    x = tf.random.normal([3, size, size, 6], seed=size)
    ours(x), reference(x)
    reference.set_weights(ours.get_weights())

    def losses_and_gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x)
            loss = tf.reduce_sum(tf.sin(out))
        return out, tape.gradient(loss, [x] + layer.trainable_weights)

    (out, grads), (expected, expected_grads) = map(losses_and_gradients, (ours, reference))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)
    for ours_grad, expected_grad in zip(grads, expected_grads):
        np.testing.assert_allclose(ours_grad.numpy(), expected_grad.numpy(), rtol=1e-5, atol=1e-4)
    graph = tf.function(lambda: losses_and_gradients(ours)).get_concrete_function().graph
    op_types = {op.type for op in graph.get_operations()}
    if small:  # no convolution kernel at all
        assert op_types & {"MatMul", "Einsum"}
        assert not op_types & {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"}
    else:  # oneDNN's convolutions, but not its weight gradient
        assert {"MatMul", "ExtractImagePatches"} <= op_types
        assert "Conv2DBackpropFilter" not in op_types


def _kernel_casts(graph) -> int:
    """Casts in `graph` of a convolution kernel variable read (the rank-4 ones)."""
    return sum(
        op.type == "Cast"
        and op.inputs[0].op.type == "ReadVariableOp"
        and op.inputs[0].shape.rank == 4
        for op in graph.get_operations()
    )


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "float32"])
def test_kernels_cast_once_per_step_however_often_a_network_runs(tiny_config, policy):
    with networks.built_in(policy):
        generator = networks.generator(tiny_config, "g")
    kernels = [layer.kernel for layer in generator.submodules if hasattr(layer, "kernel")]
    images = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=3)

    def two_calls(share: bool):
        sharing = networks.kernels_cast_once([generator]) if share else contextlib.nullcontext()
        with tf.GradientTape() as tape, sharing:
            loss = tf.reduce_sum(generator(generator(images)))
        return loss, tape.gradient(loss, generator.trainable_variables)

    shared = tf.function(lambda: two_calls(True)).get_concrete_function().graph
    separate = tf.function(lambda: two_calls(False)).get_concrete_function().graph
    if policy == "float32":
        assert _kernel_casts(shared) == _kernel_casts(separate) == 0
    else:  # one cast per kernel instead of one per call
        assert _kernel_casts(separate) == 2 * len(kernels)
        assert _kernel_casts(shared) == len(kernels)
    (loss, grads), (expected_loss, expected_grads) = two_calls(True), two_calls(False)
    assert loss.numpy() == expected_loss.numpy()  # the same casts, the same forward pass
    for grad, expected in zip(grads, expected_grads):  # summed in bfloat16, then cast
        np.testing.assert_allclose(grad.numpy(), expected.numpy(), rtol=2e-2, atol=1e-3)
    # The variables are the layers' own again, still tracked and trained.
    assert [layer.kernel for layer in generator.submodules if hasattr(layer, "kernel")] == kernels
    assert all(any(k is v for v in generator.trainable_variables) for k in kernels)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_kernel_gradients_collected_over_calls_equal_the_tapes(tiny_config, policy):
    """A generator called twice (as in a step): with the collector, each product layer's kernel
    gradient is one product over both calls, no AddN of per-call gradients; the gradients of
    every variable equal the tape's own."""
    with networks.built_in(policy):
        generator = networks.generator(tiny_config.replace(crop_size=64, load_size=64), "g")
    images = tf.random.uniform([2, 64, 64, 3], -1, 1, seed=4)
    variables = generator.trainable_variables

    def gradients(collect: bool):
        collecting = networks.KernelGradients.collecting() if collect else contextlib.nullcontext()
        with collecting as collector, tf.GradientTape() as tape:
            fakes = generator(images[:1])
            loss = tf.reduce_sum(tf.sin(generator(tf.concat([fakes, images[1:]], 0))))
        if collect:
            return collector.gradient(tape, loss, variables)
        return tape.gradient(loss, variables)

    collected, expected = gradients(True), gradients(False)
    for variable, grad, expected_grad in zip(variables, collected, expected):
        assert grad.dtype == variable.dtype
        grad, expected_grad = grad.numpy(), expected_grad.numpy()
        if policy == "float32":  # the same sums in another order
            scale = np.nanmax(np.abs(expected_grad))
            np.testing.assert_allclose(grad, expected_grad, atol=1e-5 * scale)
        else:
            # bfloat16: the tape rounds each call's gradient before the sum, the collector only
            # the sum, and on CPUs without bfloat16 units (oneDNN emulates it on AVX2) the
            # kernels round partial sums too. Measured: under 2% apart (norm of the difference
            # over the tape's) with AVX512_BF16, up to 6% on AVX2. Leaving out one call's
            # share moves most gradients by 50-90%.
            difference = np.linalg.norm(grad - expected_grad)
            assert difference <= 0.1 * np.linalg.norm(expected_grad), variable.name

    def kernel_sums(collect: bool) -> int:  # AddNs of per-call kernel gradients ([4, 4, ...])
        graph = tf.function(lambda: gradients(collect)).get_concrete_function().graph
        return sum(
            op.type == "AddN" and op.outputs[0].shape[:2] == [4, 4] for op in graph.get_operations()
        )

    collected_layers = [  # maps up to 16 px: the collector computes their kernel gradients
        layer
        for layer in generator.submodules
        if isinstance(layer, (networks.Conv2D, networks.Conv2DTranspose))
        and layer.input.shape[1] <= networks.WEIGHT_GRADIENT_MATMUL_MAX_SIZE
    ]
    assert len(collected_layers) == 9  # 4 down, 5 up of the 64 px U-Net
    assert kernel_sums(False) - kernel_sums(True) == len(collected_layers)
