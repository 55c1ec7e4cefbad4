#!/usr/bin/env python3
"""Runs dropnet's ONNX and TFLite exports in their real runtimes (PyPI packages).

    python3 check_runtimes.py SPEC.json

SPEC.json: {"images": PATH, "count": N, "labels": [...], "models": [{"path": P, "format":
"onnx" | "tflite"}, ...], "benchmarkRuns": R, "threads": T}. PATH holds N images of 224x224
packed RGB bytes, back to back: the exact pixels dropnet's own preprocessing produced.

For each model, prints one JSON line {"path", "format", "probabilities": [[...] per image],
...} and checks, failing (exit 1, the reason on stderr) at the first problem; a runtime that
rejects a file raises, which exits non-zero too. Nothing is skipped.

- ONNX: onnx.checker.check_model(full_check=True), opset >= 13, the input `image` uint8
  [batch, 224, 224, 3], the labels from metadata_props `labels`; ONNX Runtime (CPU) runs all
  images in one batch and `label_index` must be the argmax of `probabilities`.
- TFLite: the metadata read with the published schemas' generated readers (LiteRT's model
  schema, MediaPipe's metadata schema): ImageProperties RGB 224x224, NormalizationOptions,
  the label file `labels.txt` associated with the output as TENSOR_AXIS_LABELS and present in
  the appended ZIP with the expected labels; LiteRT's Interpreter runs each image normalised
  with the metadata's own mean and std; then MediaPipe Tasks' ImageClassifier, told nothing
  but the model file, classifies each image and must name every class as the label file does.

With benchmarkRuns > 0, also times batch-1 inference on `threads` threads ("imagesPerSecond").

Needs: pip install onnx onnxruntime ai-edge-litert mediapipe (see Tests/requirements.txt).
"""
import json
import sys
import time
import zipfile

import numpy as np

SIZE = 224


def fail(message):
    print(f"check_runtimes: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def benchmark(run, image, runs):
    """Images per second of `run` on one image, after two warm-up runs."""
    for _ in range(2):
        run(image)
    start = time.perf_counter()
    for _ in range(runs):
        run(image)
    return runs / (time.perf_counter() - start)


def check_onnx(path, images, labels, spec):
    import onnx
    import onnxruntime as ort

    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opsets = {entry.domain: entry.version for entry in model.opset_import}
    expect(opsets.get("", 0) >= 13, f"{path}: opset {opsets}, expected 13 or later")
    properties = {entry.key: entry.value for entry in model.metadata_props}
    expect(json.loads(properties.get("labels", "null")) == labels,
           f"{path}: metadata_props labels differ from dropnet's")
    expect("preprocessing" in properties, f"{path}: no preprocessing entry in metadata_props")
    inputs = model.graph.input
    expect(len(inputs) == 1 and inputs[0].name == "image", f"{path}: inputs {inputs}")
    tensor = inputs[0].type.tensor_type
    expect(tensor.elem_type == onnx.TensorProto.UINT8, f"{path}: input is not uint8")
    dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in tensor.shape.dim]
    expect(dims[1:] == [SIZE, SIZE, 3], f"{path}: input shape {dims}")

    options = ort.SessionOptions()
    options.intra_op_num_threads = spec["threads"]
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    expect(names == ["probabilities", "label_index"], f"{path}: outputs {names}")
    probabilities, label_index = session.run(None, {"image": images})
    expect(probabilities.shape == (len(images), len(labels)),
           f"{path}: probabilities shape {probabilities.shape}")
    expect(label_index.dtype == np.int64 and
           (label_index == probabilities.argmax(axis=1)).all(),
           f"{path}: label_index {label_index} is not the argmax of the probabilities")
    report = {"probabilities": probabilities.astype(float).tolist(),
              "labelIndex": label_index.tolist(),
              "inputFraming": properties.get("input_framing")}
    if spec["benchmarkRuns"] > 0:
        report["imagesPerSecond"] = benchmark(
            lambda image: session.run(None, {"image": image}), images[:1], spec["benchmarkRuns"])
    return report


def tflite_metadata(path):
    """The TFLite model's metadata (MediaPipe's schema reader) and the model (LiteRT's)."""
    from ai_edge_litert import schema_py_generated as schema
    from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_schema

    buffer = open(path, "rb").read()
    expect(schema.Model.ModelBufferHasIdentifier(buffer, 0), f"{path}: no TFL3 identifier")
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buffer, 0))
    entries = {entry.name.decode(): entry.buffer for entry in model.metadata or []}
    expect("TFLITE_METADATA" in entries, f"{path}: no TFLITE_METADATA entry: {list(entries)}")
    metadata_buffer = bytes(model.buffers[entries["TFLITE_METADATA"]].data)
    expect(metadata_schema.ModelMetadata.ModelMetadataBufferHasIdentifier(metadata_buffer, 0),
           f"{path}: the metadata buffer has no M001 identifier")
    metadata = metadata_schema.ModelMetadataT.InitFromObj(
        metadata_schema.ModelMetadata.GetRootAsModelMetadata(metadata_buffer, 0))
    return model, metadata, metadata_schema


def check_tflite(path, images, labels, spec):
    from ai_edge_litert.interpreter import Interpreter

    model, metadata, schema = tflite_metadata(path)
    subgraph = metadata.subgraphMetadata[0]
    expect(len(subgraph.inputTensorMetadata) == 1 and len(subgraph.outputTensorMetadata) == 1,
           f"{path}: expected one input and one output tensor metadata")
    image = subgraph.inputTensorMetadata[0]
    expect(image.content.contentPropertiesType == schema.ContentProperties.ImageProperties,
           f"{path}: the input content is not ImageProperties")
    properties = image.content.contentProperties
    expect(properties.colorSpace == schema.ColorSpaceType.RGB, f"{path}: the input is not RGB")
    expect((properties.defaultSize.width, properties.defaultSize.height) == (SIZE, SIZE),
           f"{path}: image size {properties.defaultSize.width}x{properties.defaultSize.height}")
    units = [unit for unit in image.processUnits or []
             if unit.optionsType == schema.ProcessUnitOptions.NormalizationOptions]
    expect(len(units) == 1, f"{path}: no NormalizationOptions on the input")
    mean = np.float32(units[0].options.mean[0])
    std = np.float32(units[0].options.std[0])
    files = subgraph.outputTensorMetadata[0].associatedFiles or []
    axis_labels = [f for f in files if f.type == schema.AssociatedFileType.TENSOR_AXIS_LABELS]
    expect(len(axis_labels) == 1, f"{path}: no TENSOR_AXIS_LABELS file on the output")
    label_file = axis_labels[0].name.decode()
    with zipfile.ZipFile(path) as archive:
        expect(archive.testzip() is None, f"{path}: the appended ZIP is damaged")
        packed = archive.read(label_file).decode("utf-8").split("\n")
    expect(packed == labels + [""], f"{path}: {label_file} differs from dropnet's labels")

    interpreter = Interpreter(model_path=path, num_threads=spec["threads"])
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    target = interpreter.get_output_details()[0]
    expect(source["dtype"] == np.float32 and list(source["shape"]) == [1, SIZE, SIZE, 3],
           f"{path}: input {source['dtype']} {source['shape']}")

    def run(pixels):
        interpreter.set_tensor(source["index"], (pixels.astype(np.float32) - mean) / std)
        interpreter.invoke()
        return interpreter.get_tensor(target["index"])[0].copy()

    probabilities = np.stack([run(images[i:i + 1]) for i in range(len(images))])
    expect(probabilities.shape == (len(images), len(labels)),
           f"{path}: probabilities shape {probabilities.shape}")
    report = {"probabilities": probabilities.astype(float).tolist(),
              "normalization": [float(mean), float(std)]}
    if spec["benchmarkRuns"] > 0:
        report["imagesPerSecond"] = benchmark(run, images[:1], spec["benchmarkRuns"])
    report["mediapipe"] = classify_with_mediapipe(path, images, labels)
    return report


def classify_with_mediapipe(path, images, labels):
    """MediaPipe Tasks' ImageClassifier on the model file alone: every image's scores by
    class index, its top category name, and whether every name is the label file's."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.ImageClassifierOptions(
        base_options=BaseOptions(model_asset_path=path), max_results=-1)
    classifier = vision.ImageClassifier.create_from_options(options)
    try:
        top_names, scores = [], []
        for pixels in images:
            result = classifier.classify(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(pixels)))
            categories = result.classifications[0].categories
            expect(len(categories) == len(labels),
                   f"{path}: MediaPipe returned {len(categories)} categories, expected "
                   f"{len(labels)}")
            for category in categories:
                expect(category.category_name == labels[category.index],
                       f"{path}: MediaPipe names class {category.index} "
                       f"{category.category_name!r}, the label is {labels[category.index]!r}")
            top_names.append(categories[0].category_name)
            by_index = [0.0] * len(labels)
            for category in categories:
                by_index[category.index] = float(category.score)
            scores.append(by_index)
    finally:
        classifier.close()
    return {"topNames": top_names, "scores": scores}


def main():
    if len(sys.argv) != 2:
        fail("usage: check_runtimes.py SPEC.json")
    spec = json.load(open(sys.argv[1]))
    labels = spec["labels"]
    raw = np.fromfile(spec["images"], dtype=np.uint8)
    expect(raw.size == spec["count"] * SIZE * SIZE * 3, f"{spec['images']}: {raw.size} bytes")
    images = raw.reshape(spec["count"], SIZE, SIZE, 3)
    for entry in spec["models"]:
        check = {"onnx": check_onnx, "tflite": check_tflite}[entry["format"]]
        report = check(entry["path"], images, labels, spec)
        report.update(path=entry["path"], format=entry["format"])
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
