"""Reads a TensorBoard log folder with TensorBoard's own EventAccumulator and prints what it holds
as JSON: scalars, images (size and base64 PNG), histograms, text. The TensorBoard tests run it in
the venv Tools/onnx/install-checker.sh makes (tensorboard from PyPI).

Usage:  python read_events.py LOG_DIR
"""
import base64, json, sys

from google.protobuf import json_format
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
acc.Reload()
tags = acc.Tags()
out = {
    "scalars": {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]},
    "images": {t: [[e.step, e.width, e.height, base64.b64encode(e.encoded_image_string).decode()] for e in acc.Images(t)]
               for t in tags["images"]},
    "histograms": {t: [[e.step, e.histogram_value.min, e.histogram_value.max, e.histogram_value.num,
                        e.histogram_value.sum, e.histogram_value.sum_squares,
                        list(e.histogram_value.bucket_limit), list(e.histogram_value.bucket)]
                       for e in acc.Histograms(t)] for t in tags["histograms"]},
    "text": {t: [[e.step, [s.decode() for s in e.tensor_proto.string_val]] for e in acc.Tensors(t)]
             for t in tags["tensors"] if acc.SummaryMetadata(t).plugin_data.plugin_name == "text"},
    "hparams": {},
}
try:
    hparams = acc.PluginTagToContent("hparams")
except KeyError:  # no hyperparameters logged
    hparams = {}
for tag, content in hparams.items():
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    if data.HasField("session_start_info"):
        out["hparams"] = {k: json_format.MessageToDict(v) for k, v in data.session_start_info.hparams.items()}
print(json.dumps(out))
