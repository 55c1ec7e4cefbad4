import Crypto
import DropnetCoreMLReader
import DropnetExport
import DropnetModel
import Foundation
import XCTest

/// Exports of the real ImageNet checkpoint: the files, the summary, the read-back structure
/// and the third-party parse by coremltools.
final class CoreMLExportTests: XCTestCase {
  func testExportWritesModelAndSummaryAndCountsVersions() throws {
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
      .appendingPathComponent("out/models")  // created by the export
    let options = ExportOptions(dropnetVersion: "test", userDefined: ["purpose": "test"])

    let first = try ExportTestSupport.exportCoreML(
      checkpoint: checkpoint, name: "ImageNet", to: folder, options: options)
    XCTAssertEqual(
      try ExportTestSupport.contents(of: folder), ["ImageNet.json", "ImageNet.mlmodel"])
    let bytes = try Data(contentsOf: first.mlmodelURL)
    let summary = try JSONDecoder().decode(
      ExportSummary.self, from: Data(contentsOf: first.summaryURL))
    XCTAssertEqual(summary, first.summary)
    XCTAssertEqual(summary.exportVersion, 1)
    XCTAssertEqual(summary.mlmodelByteCount, bytes.count)
    XCTAssertEqual(
      summary.modelSHA256, SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
    XCTAssertEqual(summary.classLabels, ImageNetLabels.withBackground)
    XCTAssertEqual(summary.specificationVersion, 1)
    XCTAssertEqual(summary.minimumIOS, "iOS 11")
    XCTAssertEqual(summary.baseWeightsSHA256, checkpoint.metadata.sourceSHA256)
    // 3,185,088 convolution weights + 10,944 biases + 1,026,025 logits = 4,222,057 floats,
    // plus ~27 kB of labels, names and metadata.
    XCTAssertEqual(bytes.count / 100_000, 169, "\(bytes.count) bytes")

    let second = try ExportTestSupport.exportCoreML(
      checkpoint: checkpoint, name: "ImageNet", to: folder, options: options)
    XCTAssertEqual(second.summary.exportVersion, 2)
    let model = try CoreMLClassifierFile(contentsOf: second.mlmodelURL)
    XCTAssertEqual(model.metadata.versionString, "2")
    XCTAssertEqual(model.metadata.userDefined["purpose"], "test")
    XCTAssertEqual(model.metadata.userDefined["dropnet_version"], "test")
    XCTAssertEqual(
      model.metadata.userDefined["base_weights_sha256"], checkpoint.metadata.sourceSHA256)
    XCTAssertEqual(
      try ExportTestSupport.contents(of: folder), ["ImageNet.json", "ImageNet.mlmodel"])
  }

  func testReadBackHasTheDescriptionPreprocessingAndLayers() throws {
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let result = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: folder)
    let model = try CoreMLClassifierFile(contentsOf: result.mlmodelURL)

    XCTAssertEqual(model.specificationVersion, 1)
    XCTAssertFalse(model.isUpdatable)
    XCTAssertEqual(model.inputName, "image")
    XCTAssertEqual([model.imageWidth, model.imageHeight], [224, 224])
    XCTAssertTrue(model.isRGB)
    XCTAssertEqual(model.classLabels, ImageNetLabels.withBackground)
    XCTAssertEqual(Set(model.outputNames), ["classLabel", "classLabelProbs"])
    XCTAssertEqual(model.predictedFeatureName, "classLabel")
    XCTAssertEqual(model.predictedProbabilitiesName, "classLabelProbs")
    // What Xcode shows on the model's page: its image-classifier preview, and a line on each
    // input and output.
    XCTAssertEqual(
      model.metadata.userDefined["com.apple.coreml.model.preview.type"], "imageClassifier")
    XCTAssertEqual(Set(model.featureDescriptions.keys), ["image", "classLabel", "classLabelProbs"])
    XCTAssertTrue(
      model.featureDescriptions["image"]?.contains("request.imageCropAndScaleOption = .centerCrop")
        ?? false, "\(model.featureDescriptions)")
    XCTAssertEqual(model.featureDescriptions["classLabel"], "The most likely class")
    XCTAssertEqual(model.featureDescriptions["classLabelProbs"], "Probability of each class")
    // The model's scaler maps every byte to the value ImagePreprocessor gives the engine,
    // up to float rounding (x * (1/127.5) - 1 versus (x - 127.5) / 127.5).
    let bytes = [UInt8](0...255)
    let pixels = (0..<(224 * 224 * 3)).map { bytes[$0 % 256] }
    let viaModel = try model.input(fromRGB: [pixels])
    let viaPreprocessor = try ImagePreprocessor.batch(fromRGB: [pixels], width: 224, height: 224)
    XCTAssertEqual(viaModel.shape, viaPreprocessor.shape)
    for (left, right) in zip(viaModel.values, viaPreprocessor.values) {
      XCTAssertEqual(left, right, accuracy: 2.5e-7)
    }

    // 27 convolutions, each followed by the two THRESHOLD layers of ReLU6, then pooling,
    // the logits inner product and softmax.
    XCTAssertEqual(model.layers.count, 27 * 3 + 3)
    XCTAssertEqual(model.layers.filter { $0.kind == "convolution" }.count, 27)
    XCTAssertEqual(model.layers.filter { $0.kind == "unary" }.count, 54)
    XCTAssertEqual(model.layers.suffix(3).map(\.kind), ["pooling", "innerProduct", "softmax"])
    let parameters = model.layers.reduce(0) { $0 + $1.parameterCount }
    XCTAssertEqual(parameters, 3_185_088 + 10_944 + 1_026_025)
  }

  func testReadBackGivesTheCheckpointsWeightsInEngineForm() throws {
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let result = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: folder)
    let weights = try CoreMLClassifierFile(contentsOf: result.mlmodelURL).mobileNetWeights()

    XCTAssertEqual(Set(weights.keys), Set(checkpoint.tensors.keys))
    for (name, tensor) in checkpoint.tensors {
      XCTAssertEqual(weights[name]?.shape, tensor.shape, name)
    }
    // The logits are not folded: they come back exactly.
    let logits = "MobilenetV1/Logits/Conv2d_1c_1x1/weights"
    XCTAssertEqual(weights[logits], checkpoint.tensors[logits])
    // A folded weight is the original times gamma / sqrt(variance + epsilon), per channel.
    let scope = "MobilenetV1/Conv2d_5_depthwise"
    let original = try XCTUnwrap(checkpoint.tensors["\(scope)/depthwise_weights"])
    let folded = try XCTUnwrap(weights["\(scope)/depthwise_weights"])
    let gamma = try XCTUnwrap(checkpoint.tensors["\(scope)/BatchNorm/gamma"]).values
    let variance = try XCTUnwrap(checkpoint.tensors["\(scope)/BatchNorm/moving_variance"]).values
    let channels = original.shape[2]
    for index in stride(from: 0, to: original.values.count, by: 97) {
      let channel = index % channels
      let scale = Double(gamma[channel]) / (Double(variance[channel]) + 0.001).squareRoot()
      XCTAssertEqual(
        Double(folded.values[index]), Double(original.values[index]) * scale,
        accuracy: 1e-6 * max(1, abs(Double(folded.values[index]))), "index \(index)")
    }
  }

  func testMetadataMapIsWrittenInKeyOrderSoTheHashIsReproducible() throws {
    // userDefined is a protobuf map: without deterministic ordering its entries come out in
    // Swift's hash order, which changes from process to process, and so would the export
    // hash. Eight entries in hash order are sorted by chance once in 40,320.
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let keys = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
      .map { "order-test-\($0)" }
    var userDefined: [String: String] = [:]
    for key in keys { userDefined[key] = "x" }
    let options = ExportOptions(
      userDefined: userDefined, exportDate: Date(timeIntervalSince1970: 0))
    let result = try ExportTestSupport.exportCoreML(
      checkpoint: checkpoint, name: "M", to: folder, options: options)
    let bytes = try Data(contentsOf: result.mlmodelURL)
    let offsets = try keys.map { key in
      try XCTUnwrap(bytes.range(of: Data(key.utf8))?.lowerBound, key)
    }
    XCTAssertEqual(offsets, offsets.sorted())
    XCTAssertEqual(result.summary.exportedAt, "1970-01-01T00:00:00Z")
  }

  func testFloat16HalvesTheFile() throws {
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let full = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "Full", to: folder)
    let half = try ExportTestSupport.exportCoreML(
      checkpoint: checkpoint, name: "Half", to: folder,
      options: ExportOptions(float16Weights: true))
    XCTAssertEqual(half.summary.specificationVersion, 2)
    XCTAssertEqual(half.summary.weightPrecision, "float16")
    print(
      "export sizes: float32 \(full.summary.mlmodelByteCount) bytes, float16 "
        + "\(half.summary.mlmodelByteCount) bytes")
    let ratio = Double(half.summary.mlmodelByteCount) / Double(full.summary.mlmodelByteCount)
    XCTAssertEqual(
      ratio, 0.5, accuracy: 0.01,
      "\(half.summary.mlmodelByteCount) / \(full.summary.mlmodelByteCount)")
  }

  /// Largest probability difference between the NumPy interpretation of the float32 file and
  /// TensorFlow on the same photos: both float32, different summation orders.
  static let float32InterpreterTolerance = 1e-4
  /// The same for float16 weights (11 significant bits per weight).
  static let float16InterpreterTolerance = 0.02

  func testCoreMLToolsAcceptsTheExportsAndTheirLayersMatchTensorFlow() throws {
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let photos = ExportTestSupport.referencePhotoStems
    var exports: [ExportTestSupport.CheckedExport] = []
    for (name, options) in [
      ("Float32", ExportOptions()),
      ("Float16", ExportOptions(float16Weights: true)),
      ("Updatable", ExportOptions(updatable: true)),
      ("Both", ExportOptions(float16Weights: true, updatable: true)),
    ] {
      let result = try ExportTestSupport.exportCoreML(
        checkpoint: checkpoint, name: name, to: folder, options: options)
      exports.append(
        ExportTestSupport.CheckedExport(
          model: result.mlmodelURL, summary: result.summaryURL, float16: options.float16Weights,
          updatable: options.updatable, photos: exports.count < 2 ? photos : []))
    }
    let (status, output) = try ExportTestSupport.runCoreMLTools(exports)
    XCTAssertEqual(status, 0, output)
    let reports = try output.split(separator: "\n").filter { $0.hasPrefix("{\"") }.map {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
    XCTAssertEqual(reports.count, exports.count, output)
    for report in reports {
      XCTAssertEqual(report["ok"] as? Bool, true, output)
      XCTAssertEqual(report["parameters"] as? Int, 4_222_057, output)
    }
    guard reports.count == exports.count else { return }
    let float32Difference = try XCTUnwrap(
      reports[0]["maxProbabilityDifferenceVsTensorFlow"] as? Double)
    let float16Difference = try XCTUnwrap(
      reports[1]["maxProbabilityDifferenceVsTensorFlow"] as? Double)
    print(
      "NumPy interpretation vs TensorFlow, max probability difference: float32 \(float32Difference), float16 \(float16Difference)"
    )
    XCTAssertLessThanOrEqual(float32Difference, Self.float32InterpreterTolerance)
    XCTAssertLessThanOrEqual(float16Difference, Self.float16InterpreterTolerance)
  }

  func testCoreMLToolsRejectsAModelWhoseLabelsDoNotMatchTheSummary() throws {
    // The checker must be able to fail: a summary with other labels is caught.
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let result = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: folder)
    var summary = result.summary
    summary.classLabels[1] = "not a tench"
    let wrongSummary = folder.appendingPathComponent("wrong.json")
    try JSONEncoder().encode(summary).write(to: wrongSummary)
    let (status, output) = try ExportTestSupport.runCoreMLTools([
      ExportTestSupport.CheckedExport(model: result.mlmodelURL, summary: wrongSummary)
    ])
    XCTAssertEqual(status, 1, output)
    XCTAssertTrue(output.contains("stringClassLabels differ"), output)
  }
}
