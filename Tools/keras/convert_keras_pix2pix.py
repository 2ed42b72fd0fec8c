"""Convert the seed's Keras pix2pix weights into this package's safetensors checkpoints,
and make the Keras-equivalence fixtures the Swift tests compare against.

The seed notebook (a Keras pix2pix tutorial for the maps dataset with Korean notes, which
this project started from; Docs/Pix2Pix.md records its layers) builds its models with
`define_generator()` and `define_discriminator()`. Layouts already agree (NHWC; Conv2D
kernels [kh, kw, in, out]; Conv2DTranspose kernels [kh, kw, out, in]), so conversion is
renaming only:

    Keras (creation order)                     ours (property path)
    conv2d_k   (k-th Conv2D of the generator)   encoder.k.conv.{kernel,bias}  (k = 0…6), then bottleneck.{kernel,bias}
    conv2d_transpose_k                          decoder.k.deconv.{kernel,bias} (k = 0…6), then output.{kernel,bias}
    batch_normalization_k                       encoder.1…6.norm, then decoder.0…6.norm:
        gamma, beta, moving_mean, moving_variance → gamma, beta, runningMean, runningVariance
    discriminator: conv2d_k → stages.k.conv (k = 0…4), then output; batch_normalization_k → stages.1…4.norm

Usage:
    python convert_keras_pix2pix.py --generator g_model.h5 --output generator.safetensors
    python convert_keras_pix2pix.py --discriminator d_model.h5 --output discriminator.safetensors
    python convert_keras_pix2pix.py --make-fixtures ../../Tests/Pix2PixTests/Fixtures/keras

(.h5 files as written by Keras's `model.save(...)`, e.g. the tutorial's `g_model.save(...)`,
which the seed notebook does not include; a whole-model file or weights only.)
Requires tensorflow + tf-keras (pip install tensorflow-cpu tf-keras).
"""
import argparse
import json
import os
import re
import struct
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras.initializers import RandomNormal  # noqa: E402
from tf_keras.layers import (Activation, BatchNormalization, Concatenate, Conv2D,  # noqa: E402
                             Conv2DTranspose, Dropout, Input, LeakyReLU)
from tf_keras.models import Model  # noqa: E402


# --- The seed's models, verbatim except for two knobs: filter width (`ngf`, 64 in the seed)
# --- and the dropout rate (0.5), so that small fixtures can be made deterministically.

def define_discriminator(image_shape, ndf=64):
    init = RandomNormal(stddev=0.02)
    in_src_image = Input(shape=image_shape)
    in_target_image = Input(shape=image_shape)
    merged = Concatenate()([in_src_image, in_target_image])
    d = Conv2D(ndf, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(merged)
    d = LeakyReLU(alpha=0.2)(d)
    d = Conv2D(ndf * 2, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(d)
    d = BatchNormalization()(d)
    d = LeakyReLU(alpha=0.2)(d)
    d = Conv2D(ndf * 4, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(d)
    d = BatchNormalization()(d)
    d = LeakyReLU(alpha=0.2)(d)
    d = Conv2D(ndf * 8, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(d)
    d = BatchNormalization()(d)
    d = LeakyReLU(alpha=0.2)(d)
    d = Conv2D(ndf * 8, (4, 4), padding="same", kernel_initializer=init)(d)
    d = BatchNormalization()(d)
    d = LeakyReLU(alpha=0.2)(d)
    d = Conv2D(1, (4, 4), padding="same", kernel_initializer=init)(d)
    patch_out = Activation("sigmoid")(d)
    return Model([in_src_image, in_target_image], patch_out)


def define_encoder_block(layer_in, n_filters, batchnorm=True):
    init = RandomNormal(stddev=0.02)
    g = Conv2D(n_filters, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(layer_in)
    if batchnorm:
        g = BatchNormalization()(g, training=True)
    g = LeakyReLU(alpha=0.2)(g)
    return g


def decoder_block(layer_in, skip_in, n_filters, dropout=True, rate=0.5):
    init = RandomNormal(stddev=0.02)
    g = Conv2DTranspose(n_filters, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(layer_in)
    g = BatchNormalization()(g, training=True)
    if dropout:
        g = Dropout(rate)(g, training=True)
    g = Concatenate()([g, skip_in])
    g = Activation("relu")(g)
    return g


def define_generator(image_shape=(256, 256, 3), ngf=64, dropout_rate=0.5):
    init = RandomNormal(stddev=0.02)
    in_image = Input(shape=image_shape)
    e1 = define_encoder_block(in_image, ngf, batchnorm=False)
    e2 = define_encoder_block(e1, ngf * 2)
    e3 = define_encoder_block(e2, ngf * 4)
    e4 = define_encoder_block(e3, ngf * 8)
    e5 = define_encoder_block(e4, ngf * 8)
    e6 = define_encoder_block(e5, ngf * 8)
    e7 = define_encoder_block(e6, ngf * 8)
    b = Conv2D(ngf * 8, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(e7)
    b = Activation("relu")(b)
    d1 = decoder_block(b, e7, ngf * 8, rate=dropout_rate)
    d2 = decoder_block(d1, e6, ngf * 8, rate=dropout_rate)
    d3 = decoder_block(d2, e5, ngf * 8, rate=dropout_rate)
    d4 = decoder_block(d3, e4, ngf * 8, dropout=False)
    d5 = decoder_block(d4, e3, ngf * 4, dropout=False)
    d6 = decoder_block(d5, e2, ngf * 2, dropout=False)
    d7 = decoder_block(d6, e1, ngf, dropout=False)
    g = Conv2DTranspose(3, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(d7)
    out_image = Activation("tanh")(g)
    return Model(in_image, out_image)


# --- Conversion --------------------------------------------------------------------------

def _creation_index(layer):
    match = re.search(r"_(\d+)$", layer.name)
    return int(match.group(1)) if match else 0


def _layers_of(model, kind):
    return sorted([l for l in model.layers if isinstance(l, kind)], key=_creation_index)


def _bn(layer, path, out):
    gamma, beta, mean, variance = layer.get_weights()
    out[path + ".gamma"], out[path + ".beta"] = gamma, beta
    out[path + ".runningMean"], out[path + ".runningVariance"] = mean, variance


def convert_generator(model):
    """Our tensor names → arrays for the seed's generator."""
    out = {}
    convs = _layers_of(model, Conv2D)
    deconvs = [l for l in _layers_of(model, Conv2DTranspose)]
    convs = [l for l in convs if not isinstance(l, Conv2DTranspose)]
    norms = _layers_of(model, BatchNormalization)
    assert len(convs) == 8 and len(deconvs) == 8 and len(norms) == 13, "not the seed's U-Net generator"
    for k, layer in enumerate(convs):
        path = f"encoder.{k}.conv" if k < 7 else "bottleneck"
        out[path + ".kernel"], out[path + ".bias"] = layer.get_weights()
    for k, layer in enumerate(deconvs):
        path = f"decoder.{k}.deconv" if k < 7 else "output"
        out[path + ".kernel"], out[path + ".bias"] = layer.get_weights()
    for k, layer in enumerate(norms):
        _bn(layer, f"encoder.{k + 1}.norm" if k < 6 else f"decoder.{k - 6}.norm", out)
    return out


def convert_discriminator(model):
    """Our tensor names → arrays for the seed's discriminator."""
    out = {}
    convs = _layers_of(model, Conv2D)
    norms = _layers_of(model, BatchNormalization)
    assert len(convs) == 6 and len(norms) == 4, "not the seed's PatchGAN discriminator"
    for k, layer in enumerate(convs):
        path = f"stages.{k}.conv" if k < 5 else "output"
        out[path + ".kernel"], out[path + ".bias"] = layer.get_weights()
    for k, layer in enumerate(norms):
        _bn(layer, f"stages.{k + 1}.norm", out)
    return out


def write_safetensors(tensors, path, metadata=None):
    """Minimal safetensors writer (F32, little-endian), per the format's specification."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    if metadata:
        header["__metadata__"] = metadata
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def _load(path, builder):
    try:
        return keras.models.load_model(path, compile=False)
    except Exception:
        model = builder()
        model.load_weights(path)
        return model


# --- Fixtures ----------------------------------------------------------------------------

def pattern(shape, phase):
    """A deterministic input both NumPy and Swift compute identically (to ~1e-7)."""
    n, h, w, c = shape
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    img = np.sin(0.11 * y + 0.07 * x + 1.3 * ch + phase) * np.cos(0.05 * x - 0.03 * y + phase)
    return np.broadcast_to(img.astype(np.float32), shape).copy()


def write_lying_h5(path):
    """A Keras-shaped HDF5 file whose one dataset declares 2^20 x 2^20 floats (4 TiB) that are
    never written: chunked storage makes the file a few kilobytes."""
    import h5py
    with h5py.File(path, "w") as f:
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = np.array([b"conv2d"])
        layer = weights.create_group("conv2d")
        layer.attrs["weight_names"] = np.array([b"conv2d/kernel:0"])
        layer.create_group("conv2d").create_dataset("kernel:0", shape=(1 << 20, 1 << 20), dtype="f4", chunks=(64, 64))


def make_fixtures(directory):
    os.makedirs(directory, exist_ok=True)
    tf.random.set_seed(7)
    keras.utils.set_random_seed(7)
    # The seed's architecture at 1/32 width (ngf = 2) so the fixture stays small; dropout
    # rate 0 because dropout is random (the comparison is "dropout off, batch statistics").
    g = define_generator((256, 256, 3), ngf=2, dropout_rate=0.0)
    d = define_discriminator((256, 256, 3), ndf=2)
    # Give BatchNorm non-trivial parameters and moving statistics.
    rng = np.random.default_rng(3)
    for model in (g, d):
        for layer in model.layers:
            if isinstance(layer, BatchNormalization):
                c = layer.gamma.shape[0]
                layer.set_weights([rng.uniform(0.5, 1.5, c).astype("f4"), rng.uniform(-0.2, 0.2, c).astype("f4"),
                                   rng.uniform(-0.1, 0.1, c).astype("f4"), rng.uniform(0.5, 2.0, c).astype("f4")])
            elif isinstance(layer, (Conv2D, Conv2DTranspose)):
                k, b = layer.get_weights()
                # N(0, 0.02) makes a deep net's output nearly constant; larger weights exercise more.
                layer.set_weights([rng.normal(0, 0.2, k.shape).astype("f4"), rng.normal(0, 0.1, b.shape).astype("f4")])
    source = pattern((1, 256, 256, 3), 0.0)
    target = pattern((1, 256, 256, 3), 0.5)
    # Convert first: a training-mode call below updates Keras's moving statistics.
    write_safetensors(convert_generator(g), os.path.join(directory, "generator.safetensors"))
    write_safetensors(convert_discriminator(d), os.path.join(directory, "discriminator.safetensors"))
    # The same weights as whole-model HDF5, as the seed's recipe saves its models
    # (`g_model.save(...)`), for the native reader's tests (Tests/KerasHDF5Tests).
    g.save(os.path.join(directory, "generator.h5"))
    d.save(os.path.join(directory, "discriminator.h5"))
    write_lying_h5(os.path.join(directory, "hostile_lying_shape.h5"))
    generated = g(source, training=False).numpy()   # BN layers were built with training=True
    d_inference = d([source, target], training=False).numpy()
    d_training = d([source, target], training=True).numpy()
    np.save(os.path.join(directory, "generator_output.npy"), generated.astype("f4"))
    np.save(os.path.join(directory, "discriminator_inference.npy"), d_inference.astype("f4"))
    np.save(os.path.join(directory, "discriminator_training.npy"), d_training.astype("f4"))
    # Parameter counts of the full-size seed models, for the record.
    full_g, full_d = define_generator(), define_discriminator((256, 256, 3))
    counts = {"generator_total": int(full_g.count_params()),
              "generator_trainable": int(sum(np.prod(v.shape) for v in full_g.trainable_weights)),
              "discriminator_total": int(full_d.count_params()),
              "discriminator_trainable": int(sum(np.prod(v.shape) for v in full_d.trainable_weights)),
              "fixture": "seed architecture, ngf = ndf = 2, dropout off, inputs = pattern() in this script",
              "tensorflow": tf.__version__}
    with open(os.path.join(directory, "README.json"), "w") as f:
        json.dump(counts, f, indent=2)
    print(json.dumps(counts, indent=2))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", help="the seed's generator (.h5)")
    p.add_argument("--discriminator", help="the seed's discriminator (.h5)")
    p.add_argument("--output", help="safetensors file to write")
    p.add_argument("--make-fixtures", metavar="DIR", help="write the Keras-equivalence fixtures to DIR")
    a = p.parse_args()
    if a.make_fixtures:
        make_fixtures(a.make_fixtures)
    elif a.generator and a.output:
        write_safetensors(convert_generator(_load(a.generator, define_generator)), a.output)
    elif a.discriminator and a.output:
        write_safetensors(convert_discriminator(_load(a.discriminator, lambda: define_discriminator((256, 256, 3)))), a.output)
    else:
        p.print_help()
        sys.exit(2)


if __name__ == "__main__":
    main()
