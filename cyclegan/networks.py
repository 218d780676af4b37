"""CycleGAN networks: U-Net and ResNet generators, PatchGAN discriminator. Plain TensorFlow.

Uses Keras 2 (tf_keras), the Keras that TFX 1.21 is built on; importing it directly keeps the
choice independent of TF_USE_LEGACY_KERAS.

Tutorial parity. The tutorial (tensorflow/docs site/en/tutorials/generative/cyclegan.ipynb)
builds its networks with tensorflow/examples tensorflow_examples/models/pix2pix/pix2pix.py:
unet_generator(3, norm_type='instancenorm') and discriminator(norm_type='instancenorm',
target=False). Read against that file, the tutorial preset differed in one setting, now fixed:

- LeakyReLU slope: downsample() and discriminator() add a bare tf.keras.layers.LeakyReLU(),
  Keras' default alpha 0.3; we used the paper's 0.2. Now Config.leaky_relu_slope (0.3; the
  paper preset 0.2).

Everything else matched: N(0, 0.02) kernels; conv biases only in each network's last conv;
InstanceNormalization (epsilon 1e-5, scale ~ N(1, 0.02), offset 0); downsample's 4x4 stride-2
conv, norm (none in the first block), LeakyReLU; upsample's 4x4 stride-2 transposed conv,
norm, Dropout(0.5) in the first three, ReLU; down widths 64..512, up widths 512..64, skips
concatenated after each up-block, innermost first; a last 4x4 stride-2 Conv2DTranspose with
tanh; the discriminator's three down-blocks, zero padding, 4x4 stride-1 conv to 512, norm,
LeakyReLU, zero padding, 4x4 conv to one logit. (One structural difference without effect on
the math: the tutorial's U-Net declares any input size but works only at multiples of 256 px;
ours fixes the input to crop_size and matches its depth to it.) tests/test_tutorial_parity.py
holds a whole step of ours to the tutorial's.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import tensorflow as tf
import tf_keras as keras

from cyclegan.config import Config


def _init() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(0.0, 0.02)  # both references: N(0, 0.02)


class InstanceNormalization(keras.layers.Layer):
    """Per-sample, per-channel normalisation over height and width.

    affine=True is the tutorial's layer (learned scale ~ N(1, 0.02) and offset); affine=False
    is the paper's (PyTorch InstanceNorm2d's default). Per-sample statistics make batching
    exact: a batch of n images gives the same outputs as n separate calls, which the train
    step relies on.

    Computed with TensorFlow's fused batch-norm kernel applied to each image on its own (for
    one image, batch norm over height and width is instance norm): the same math as
    moments-then-normalise, ~2-3x faster forward and backward on CPU. Statistics in float32:
    under mixed precision the kernel takes the bfloat16 (or float16) maps as they are, with
    float32 scale and offset, and computes mean and variance in float32; no casts of the maps
    (they cost ~2% of a bfloat16 step).
    """

    def __init__(self, affine: bool = True, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.affine = affine
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.affine:
            self.scale = self.add_weight(
                name="scale",
                shape=[channels],
                dtype=tf.float32,
                initializer=keras.initializers.RandomNormal(1.0, 0.02),
                experimental_autocast=False,  # read as float32 under mixed precision too
            )
            self.offset = self.add_weight(
                name="offset",
                shape=[channels],
                dtype=tf.float32,
                initializer="zeros",
                experimental_autocast=False,
            )
        else:
            self.scale = tf.ones([channels])
            self.offset = tf.zeros([channels])
        super().build(input_shape)

    def _normalize(self, images, scale, offset):
        normalized, _, _ = tf.compat.v1.nn.fused_batch_norm(
            images, scale, offset, epsilon=self.epsilon, is_training=True
        )
        return normalized

    def call(self, x):
        scale, offset = self.scale, self.offset
        batch = x.shape[0]
        if batch is not None:  # a static batch (training): one fused call per image
            images = tf.split(x, batch) if batch > 1 else [x]
            normalized = tf.concat([self._normalize(image, scale, offset) for image in images], 0)
        else:  # a dynamic batch (serving): fold the batch into the channels
            shape = tf.shape(x)
            folded = tf.reshape(
                tf.transpose(x, [1, 2, 0, 3]), [1, shape[1], shape[2], shape[0] * shape[3]]
            )
            normalized = self._normalize(
                folded, tf.tile(scale, [shape[0]]), tf.tile(offset, [shape[0]])
            )
            normalized = tf.transpose(
                tf.reshape(normalized, [shape[1], shape[2], shape[0], shape[3]]), [2, 0, 1, 3]
            )
        return normalized


class ReflectionPadding2D(keras.layers.Layer):
    def __init__(self, padding: int, **kwargs):
        super().__init__(**kwargs)
        self.padding = padding

    def call(self, x):
        p = self.padding
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")


# Feature maps at most this many pixels a side go through the U-Net's 4x4 stride-2 convolutions
# as one matrix product (below). Measured at 256 px on CPU (python -m benchmarks profile_step
# --by name): the oneDNN kernels spend most of their time there handling the 4-33 MB kernels
# rather than computing, and allocate and free large buffers on every call; as products,
# 2x2 and 4x4 maps run 2-5x faster, and transposed convolutions of 8x8 maps ~15% faster
# (plain ones of 8x8 maps no faster).
MATMUL_MAX_SIZE = 4
TRANSPOSED_MATMUL_MAX_SIZE = 8


def _shift(tensor: tf.Tensor, step: int) -> tf.Tensor:
    """`tensor` moved along axis 1 so that out[m] = tensor[m - step], zeros shifted in."""
    pad = [[0, 0]] * tensor.shape.rank
    pad[1] = [1, 0] if step == 1 else [0, 1]
    begin = [0] * tensor.shape.rank
    begin[1] = 0 if step == 1 else 1
    # tf.slice, not Python's [:, 1:]: the gradient of that strided slice (StridedSliceGrad) took
    # 3-4x longer than the whole overlap-add does now; tf.slice's is a pad.
    return tf.slice(tf.pad(tensor, pad), begin, tf.shape(tensor))


def _overlap_rows(windows: tf.Tensor) -> tf.Tensor:
    """[b, h, w, 4 taps, ...] -> [b, 2h, w, ...]: each input row's 4-tap window added into the
    output rows 2i-1 .. 2i+2 (a stride-2 'same' transposed convolution puts tap k of row i at
    row 2i + k - 1). Output row 2m gets tap 1 of row m and tap 3 of row m-1; row 2m+1 gets
    tap 2 of row m and tap 0 of row m+1."""
    # One unstack, not four slices: each slice's gradient is a zero-filled copy of `windows`.
    tap = tf.unstack(windows, axis=3)
    even = tap[1] + _shift(tap[3], 1)
    odd = tap[2] + _shift(tap[0], -1)
    rows = tf.stack([even, odd], axis=2)
    shape = tf.unstack(tf.shape(rows))
    return tf.reshape(rows, [shape[0], 2 * shape[1], *shape[3:]])


# Mid-size maps, up to this many pixels a side, keep oneDNN's convolution forward and for the
# input gradient, and take the weight gradient as one matrix product of the 4x4 patches with
# the output gradient. Measured at 256 px (each kernel alone, batch 2 and 1): oneDNN's
# weight-gradient kernel reaches 25-40% of the bfloat16 peak on 8x8 and 16x16 maps, the
# product 45-70%; about 4% off a bfloat16 step and 1% off a float32 one. On 32x32 maps and
# larger oneDNN's is as fast or faster.
WEIGHT_GRADIENT_MATMUL_MAX_SIZE = 16


def _patches(x: tf.Tensor) -> tf.Tensor:
    """[b, h, w, c] -> [b * h/2 * w/2, 16c]: the 4x4 window under each output position of a
    stride-2 'same' convolution ('same' pads 1 each side of an even map), ordered as a kernel's
    [4, 4, c]."""
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    patches = tf.image.extract_patches(padded, [1, 4, 4, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
    return tf.reshape(patches, [-1, patches.shape[-1]])


class KernelGradients:
    """Collects the kernel gradients of the product layers below (small and mid-size maps) and
    computes each as one product over all of a step's calls of its layer.

    A step calls each generator twice. Left to the tape, every call writes a full kernel
    gradient and an AddN sums the two: three passes over kernels of 4-33 MB on the maps where
    reading them is most of the work. Here each call records the two factors of its share
    (kernel matrix gradient = left^T @ right) and `gradient` multiplies the concatenated
    factors once. Active inside `collecting()`; elsewhere (serving, evaluation) the layers
    take the tape's usual path.
    """

    _active = threading.local()  # per thread: MirroredStrategy runs each replica in its own

    def __init__(self):
        self._factors: Dict[int, Tuple[keras.layers.Layer, list, list, Optional[Callable]]] = {}

    @classmethod
    def current(cls) -> Optional["KernelGradients"]:
        return getattr(cls._active, "collector", None)

    @classmethod
    @contextlib.contextmanager
    def collecting(cls) -> Iterator["KernelGradients"]:
        previous, cls._active.collector = cls.current(), cls()
        try:
            yield cls._active.collector
        finally:
            cls._active.collector = previous

    def add(self, layer: keras.layers.Layer, left: tf.Tensor, right: tf.Tensor, left_of=None):
        """Record one call's factors; `left_of` (the same for every call of `layer`) makes the
        left factor of the concatenated `left`s: patches are extracted once, from the calls'
        maps, not copied per call."""
        _, lefts, rights, _ = self._factors.setdefault(id(layer), (layer, [], [], left_of))
        lefts.append(left)
        rights.append(right)

    def gradient(self, tape: tf.GradientTape, target: tf.Tensor, variables: Sequence[tf.Variable]):
        """tape.gradient(target, variables), the collected kernels' gradients filled in."""
        self._factors.clear()  # only what this gradient's backward pass records counts
        gradients = list(tape.gradient(target, variables))
        position = {id(variable): index for index, variable in enumerate(variables)}
        for layer, lefts, rights, left_of in self._factors.values():
            index = position.get(id(layer.kernel))
            if index is None:  # a layer this target only passes through
                continue
            left = tf.concat(lefts, 0)
            left = left_of(left) if left_of else left
            product = tf.matmul(left, tf.concat(rights, 0), transpose_a=True)
            kernel_gradient = tf.cast(tf.reshape(product, layer.kernel.shape), layer.kernel.dtype)
            if gradients[index] is not None:
                kernel_gradient += gradients[index]
            gradients[index] = kernel_gradient
        self._factors.clear()
        return gradients


def _kernel_gradient(
    collector: Optional[KernelGradients], layer, kernel, left: tf.Tensor, right: tf.Tensor
) -> Optional[tf.Tensor]:
    """The kernel gradient patches(left)^T @ right of one call, or None when `collector` (the
    one active at the forward pass) takes it."""
    if collector is not None:
        collector.add(layer, left, right, left_of=_patches)
        return None
    return tf.reshape(tf.matmul(_patches(left), right, transpose_a=True), kernel.shape)


def _conv_4x4_stride_2(layer, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """tf.nn.conv2d(x, kernel, 2, 'same'), its weight gradient as patches^T @ dy."""
    collector = KernelGradients.current()

    @tf.custom_gradient
    def conv(x, kernel):
        def gradient(dy):
            dx = tf.nn.conv2d_transpose(dy, kernel, tf.shape(x), 2, "SAME")  # TF's own
            flat_dy = tf.reshape(dy, [-1, kernel.shape[-1]])
            return dx, _kernel_gradient(collector, layer, kernel, x, flat_dy)

        return tf.nn.conv2d(x, kernel, 2, "SAME"), gradient

    return conv(x, kernel)


def _conv_transpose_4x4_stride_2(layer, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """The stride-2 'same' transposed convolution of x ([4, 4, filters, channels] kernel),
    its weight gradient as patches(dy)^T @ x: the transposed convolution's weight gradient is
    the convolution's, with dy as the input and x as the output gradient."""
    shape = tf.shape(x)
    output_shape = [shape[0], 2 * shape[1], 2 * shape[2], kernel.shape[2]]
    collector = KernelGradients.current()

    @tf.custom_gradient
    def conv_transpose(x, kernel):
        def gradient(dy):
            dx = tf.nn.conv2d(dy, kernel, 2, "SAME")  # TF's own input gradient
            flat_x = tf.reshape(x, [-1, kernel.shape[-1]])
            return dx, _kernel_gradient(collector, layer, kernel, dy, flat_x)

        return tf.nn.conv2d_transpose(x, kernel, output_shape, 2, "SAME"), gradient

    return conv_transpose(x, kernel)


def _product(layer, a: tf.Tensor, kernel_matrix: tf.Tensor, transposed: bool) -> tf.Tensor:
    """a @ kernel_matrix (a @ kernel_matrix^T when `transposed`): a small map's convolution as
    one product. Its kernel gradient goes to the collector when one is active."""
    # einsum for a @ b^T: MatMul(transpose_b=True) ran up to 4x slower in float32 here.
    outputs = tf.einsum("pc,kc->pk", a, kernel_matrix) if transposed else a @ kernel_matrix
    collector = KernelGradients.current()
    if collector is None:
        return outputs

    @tf.custom_gradient
    def product(a):  # the kernel's gradient is left to the collector
        def gradient(dy):
            left, right = (dy, a) if transposed else (a, dy)
            collector.add(layer, left, right)
            return tf.matmul(dy, kernel_matrix, transpose_b=not transposed)

        return outputs, gradient

    return product(a)


def _is_4x4_stride_2_same(layer: keras.layers.Layer) -> bool:
    return (layer.kernel_size, layer.strides, layer.padding) == ((4, 4), (2, 2), "same") and (
        layer.activation is keras.activations.linear
    )


class Conv2D(keras.layers.Conv2D):
    """keras Conv2D; a 4x4 stride-2 'same' one on a small map is computed as one matrix
    product of the gathered 4x4 patches with the kernel: the same sums, in another order. On
    a mid-size map only its weight gradient is (see _conv_4x4_stride_2)."""

    def call(self, x):
        size = x.shape[1]
        if (
            size is None
            or size % 2
            or size > WEIGHT_GRADIENT_MATMUL_MAX_SIZE
            or not _is_4x4_stride_2_same(self)
        ):
            return super().call(x)
        if size > MATMUL_MAX_SIZE:
            outputs = _conv_4x4_stride_2(self, x, tf.convert_to_tensor(self.kernel))
        else:
            outputs = self._as_product(x)
        return outputs + self.bias if self.use_bias else outputs

    def _as_product(self, x):
        channels, out = x.shape[-1], x.shape[1] // 2
        padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])  # 'same' pads 1 each side here
        taps = [
            padded[:, y : y + 2 * out : 2, x_ : x_ + 2 * out : 2]
            for y in range(4)
            for x_ in range(4)
        ]
        patches = tf.reshape(tf.stack(taps, axis=3), [-1, 16 * channels])
        kernel = tf.reshape(self.kernel, [16 * channels, self.filters])
        outputs = _product(self, patches, kernel, transposed=False)
        return tf.reshape(outputs, [-1, out, out, self.filters])


class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """keras Conv2DTranspose; a 4x4 stride-2 'same' one on a small map is computed as one
    matrix product (each pixel's 4x4 window of contributions) and an overlap-add of the
    windows: the same sums, in another order. On a mid-size map only its weight gradient is
    (see _conv_transpose_4x4_stride_2)."""

    def call(self, x):
        size = x.shape[1]
        if (
            size is None
            or size > WEIGHT_GRADIENT_MATMUL_MAX_SIZE
            or not _is_4x4_stride_2_same(self)
        ):
            return super().call(x)
        if size > TRANSPOSED_MATMUL_MAX_SIZE:
            outputs = _conv_transpose_4x4_stride_2(self, x, tf.convert_to_tensor(self.kernel))
        else:
            outputs = self._as_product(x)
        return outputs + self.bias if self.use_bias else outputs

    def _as_product(self, x):
        size, channels = x.shape[1], x.shape[-1]
        # The kernel is [4, 4, filters, channels]: contributions = x @ kernel^T per pixel.
        windows = _product(
            self,
            tf.reshape(x, [-1, channels]),
            tf.reshape(self.kernel, [16 * self.filters, channels]),
            transposed=True,
        )
        windows = tf.reshape(windows, [-1, size, size, 4, 4, self.filters])
        rows = _overlap_rows(windows)  # [b, 2h, w, 4, filters]
        columns = _overlap_rows(tf.transpose(rows, [0, 2, 1, 3, 4]))  # [b, 2w, 2h, filters]
        return tf.transpose(columns, [0, 2, 1, 3])


def _downsample(filters: int, config: Config, norm: bool = True) -> keras.Sequential:
    block = keras.Sequential(
        [
            Conv2D(
                filters,
                4,
                strides=2,
                padding="same",
                kernel_initializer=_init(),
                use_bias=config.train.conv_bias,
            )
        ]
    )
    if norm:
        block.add(InstanceNormalization(config.train.norm_affine))
    block.add(keras.layers.LeakyReLU(config.train.leaky_relu_slope))
    return block


def _upsample(filters: int, config: Config, dropout: float) -> keras.Sequential:
    block = keras.Sequential(
        [
            Conv2DTranspose(
                filters,
                4,
                strides=2,
                padding="same",
                kernel_initializer=_init(),
                use_bias=config.train.conv_bias,
            ),
            InstanceNormalization(config.train.norm_affine),
        ]
    )
    if dropout:
        block.add(keras.layers.Dropout(dropout))
    block.add(keras.layers.ReLU())
    return block


def unet_filters(image_size: int, base_filters: int) -> List[int]:
    """Encoder widths: one stride-2 block per halving down to 1x1, capped at 8x base."""
    depth = image_size.bit_length() - 1  # log2 for powers of two
    return [base_filters * min(2**i, 8) for i in range(depth)]


def unet_generator(config: Config, name: str) -> keras.Model:
    """The tutorial's (pix2pix) U-Net, its depth matched to the image size."""
    down_filters = unet_filters(config.data.crop_size, config.train.generator_filters)
    up_filters = down_filters[-2::-1]
    inputs = keras.layers.Input([config.data.crop_size, config.data.crop_size, 3])
    x, skips = inputs, []
    for index, filters in enumerate(down_filters):
        x = _downsample(filters, config, norm=index > 0)(x)
        skips.append(x)
    for index, (filters, skip) in enumerate(zip(up_filters, reversed(skips[:-1]))):
        x = _upsample(filters, config, config.train.unet_dropout if index < 3 else 0.0)(x)
        x = keras.layers.Concatenate()([x, skip])
    x = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", kernel_initializer=_init())(x)
    return keras.Model(inputs, _tanh_float32(x), name=name)


def _tanh_float32(x):
    # Outputs in float32 whatever the compute precision: images and losses stay exact.
    return keras.layers.Activation("tanh", dtype="float32")(x)


def _conv_norm_relu(
    x, filters: int, kernel: int, config: Config, strides: int = 1, padding: str = "same"
):
    x = keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        kernel_initializer=_init(),
        use_bias=config.train.conv_bias,
    )(x)
    return keras.layers.ReLU()(InstanceNormalization(config.train.norm_affine)(x))


def resnet_generator(config: Config, name: str) -> keras.Model:
    """The paper's ResNet generator: c7s1-f, d2f, d4f, R4f x blocks, u2f, uf, c7s1-3."""
    f = config.train.generator_filters
    inputs = keras.layers.Input([None, None, 3])
    x = _conv_norm_relu(ReflectionPadding2D(3)(inputs), f, 7, config, padding="valid")
    x = _conv_norm_relu(x, 2 * f, 3, config, strides=2)
    x = _conv_norm_relu(x, 4 * f, 3, config, strides=2)
    for _ in range(config.train.resnet_blocks):
        y = _conv_norm_relu(ReflectionPadding2D(1)(x), 4 * f, 3, config, padding="valid")
        y = keras.layers.Conv2D(
            4 * f, 3, kernel_initializer=_init(), use_bias=config.train.conv_bias
        )(ReflectionPadding2D(1)(y))
        x = keras.layers.Add()([x, InstanceNormalization(config.train.norm_affine)(y)])
    for filters in (2 * f, f):
        x = keras.layers.Conv2DTranspose(
            filters,
            3,
            strides=2,
            padding="same",
            kernel_initializer=_init(),
            use_bias=config.train.conv_bias,
        )(x)
        x = keras.layers.ReLU()(InstanceNormalization(config.train.norm_affine)(x))
    x = keras.layers.Conv2D(3, 7, kernel_initializer=_init())(ReflectionPadding2D(3)(x))
    return keras.Model(inputs, _tanh_float32(x), name=name)


def generator(config: Config, name: str) -> keras.Model:
    builders = {"unet": unet_generator, "resnet": resnet_generator}
    return builders[config.train.generator](config, name)


@contextlib.contextmanager
def built_in(policy: str) -> Iterator[None]:
    """Layers built within compute in `policy` (Keras reads its global policy when a layer is
    built); the global policy is put back afterwards, so nothing else in the process changes."""
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


@contextlib.contextmanager
def kernels_cast_once(models: Sequence[keras.Model]) -> Iterator[None]:
    """Within: each mixed-precision layer of `models` computes with one copy of its kernel cast
    to the compute dtype here, instead of Keras casting the float32 variable again in every
    call. A step calls each generator twice: this halves the kernel casts, and the two calls'
    kernel gradients are summed before the one cast back (in the compute dtype, as any
    gradient of a tensor used twice) - about 2.5% of a bfloat16 step, whose generators hold
    108M weights. Float32 layers are left alone."""
    swapped = []
    for model in models:
        for layer in model.submodules:
            kernel = getattr(layer, "kernel", None)
            if isinstance(kernel, tf.Variable) and layer.compute_dtype != kernel.dtype.name:
                # object.__setattr__: Keras' own would stop tracking the variable.
                object.__setattr__(layer, "kernel", tf.cast(kernel.value(), layer.compute_dtype))
                swapped.append((layer, kernel))
    try:
        yield
    finally:
        for layer, kernel in swapped:
            object.__setattr__(layer, "kernel", kernel)


def float32_generator(trained: keras.Model, config: Config) -> keras.Model:
    """`trained` computing in float32: itself, or a float32 copy when it was built under a
    mixed-precision policy (whose variables are float32 already, so the copy is exact). The
    export serves this: a server without bfloat16 hardware would emulate bfloat16, slowly."""
    if all(layer.compute_dtype == "float32" for layer in trained.layers):
        return trained
    with built_in("float32"):
        copy = generator(config, trained.name)
    copy.set_weights(trained.get_weights())
    return copy


def patchgan_discriminator(config: Config, name: str) -> keras.Model:
    """PatchGAN: n stride-2 blocks, a stride-1 block, then one logit per patch.

    With discriminator_layers=3 this is the tutorial's discriminator and the paper's 70x70
    PatchGAN.
    """
    f, n = config.train.discriminator_filters, config.train.discriminator_layers
    inputs = keras.layers.Input([None, None, 3])
    x = inputs
    for index in range(n):
        # The first block has no norm: the paper's code gives it a bias, pix2pix does not.
        x = _downsample(f * min(2**index, 8), config, norm=index > 0)(x)
    x = keras.layers.ZeroPadding2D()(x)
    x = keras.layers.Conv2D(
        f * min(2**n, 8), 4, kernel_initializer=_init(), use_bias=config.train.conv_bias
    )(x)
    x = keras.layers.LeakyReLU(config.train.leaky_relu_slope)(
        InstanceNormalization(config.train.norm_affine)(x)
    )
    x = keras.layers.ZeroPadding2D()(x)
    outputs = keras.layers.Conv2D(1, 4, kernel_initializer=_init(), dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)
