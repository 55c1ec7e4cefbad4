import DropnetExport
import DropnetMedia
import DropnetModel
import DropnetTestSupport
import DropnetTraining
import Foundation
import XCTest

/// The ONNX and TFLite exports run in their real runtimes (ONNX Runtime, LiteRT, MediaPipe
/// Tasks; check_runtimes.py in the tests' virtual environment) on real photos, fed the exact
/// RGB bytes dropnet's preprocessing made, give the probabilities `dropnet predict` gives
/// (`CheckpointClassifier`): for the ImageNet model (the five reference photos) and a trained
/// head (the twelve held-out photos). A file a runtime rejects fails the test.
final class RuntimeParityTests: XCTestCase {
  /// Float32 files: the same folded weights and operations, different summation orders and
  /// kernels (oneDNN, ONNX Runtime's MLAS, XNNPACK): float rounding only.
  static let float32Tolerance = 1e-4
  /// Float16 files: every weight rounded to 11 significant bits.
  static let float16Tolerance = 1e-2
  /// MediaPipe resizes and normalises the image itself (to the same 224x224, so the pixels
  /// stay): its scores must stay this close to dropnet's and name the same top class.
  static let mediaPipeTolerance = 1e-2
  /// Timed runs of batch-1 inference per float32 ImageNet file.
  static let benchmarkRuns = 30

  /// One export checked by the runtimes, with what dropnet's engine predicts.
  struct Case {
    var name: String
    var checkpoint: Checkpoint
    /// 224x224 packed RGB pixels, as dropnet's preprocessing made them.
    var images: [[UInt8]]
    var float16: Bool
    var benchmark: Bool
  }

  /// The reports of check_runtimes.py, by format; the largest differences are printed.
  @discardableResult
  func checkInRuntimes(_ item: Case) throws -> [ExportFormat: [String: Any]] {
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let result = try ModelExporter.export(
      checkpoint: item.checkpoint, name: item.name, to: folder, formats: [.onnx, .tflite],
      options: ExportOptions(float16Weights: item.float16))
    let side = ImagePreprocessor.inputSize
    let classifier = try CheckpointClassifier(
      checkpoint: item.checkpoint, batchSize: item.images.count, threads: 2)
    let expected = try classifier.probabilities(
      ImagePreprocessor.batch(fromRGB: item.images, width: side, height: side)
    ).map(Double.init)
    let labels = classifier.labels

    let reports = try ExportTestSupport.runRuntimes(
      images: item.images, labels: labels,
      models: [
        (.onnx, try XCTUnwrap(result.url(.onnx))), (.tflite, try XCTUnwrap(result.url(.tflite))),
      ],
      benchmarkRuns: item.benchmark ? Self.benchmarkRuns : 0, folder: folder)
    let tolerance = item.float16 ? Self.float16Tolerance : Self.float32Tolerance
    let precision = item.float16 ? "float16" : "float32"
    let expectedTop = (0..<item.images.count).map { image in
      let row = expected[(image * labels.count)..<((image + 1) * labels.count)]
      return labels[row.indices.max { row[$0] < row[$1] }! - image * labels.count]
    }
    for (format, report) in reports {
      let rows = try XCTUnwrap(report["probabilities"] as? [[Double]], "\(format)")
      let (maximum, sameTop) = ExportTestSupport.compareProbabilities(
        expected, rows.flatMap { $0 }, classCount: labels.count)
      let size = try XCTUnwrap(result.summary.file(format)).byteCount
      var line =
        "runtime parity \(item.name) \(format) \(precision) (\(size) bytes): "
        + "max |p_runtime - p_dropnet| = \(maximum)"
      if let speed = report["imagesPerSecond"] as? Double {
        line += String(format: ", %.1f images/s at batch 1 on 2 threads", speed)
      }
      print(line)
      XCTAssertLessThanOrEqual(maximum, tolerance, "\(format) \(precision)")
      XCTAssertEqual(sameTop, [Bool](repeating: true, count: item.images.count), "\(format)")
      if format == .onnx {
        let indices = try XCTUnwrap(report["labelIndex"] as? [Int])
        XCTAssertEqual(indices.map { labels[$0] }, expectedTop, "label_index")
      }
    }
    let mediaPipe = try XCTUnwrap(reports[.tflite]?["mediapipe"] as? [String: Any])
    XCTAssertEqual(
      mediaPipe["topNames"] as? [String], expectedTop,
      "MediaPipe's ImageClassifier names the class dropnet predicts, from the model file alone")
    let scores = try XCTUnwrap(mediaPipe["scores"] as? [[Double]])
    let (maximum, _) = ExportTestSupport.compareProbabilities(
      expected, scores.flatMap { $0 }, classCount: labels.count)
    print(
      "runtime parity \(item.name) MediaPipe ImageClassifier \(precision): max |score - p_dropnet| = \(maximum)"
    )
    XCTAssertLessThanOrEqual(maximum, Self.mediaPipeTolerance)
    return reports
  }

  /// The five reference photos (224x224 RGB, cropped and resized when the fixture was made).
  func referencePhotos() throws -> [[UInt8]] {
    try ExportTestSupport.referencePhotoStems.map {
      [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0 + ".rgb")))
    }
  }

  func testImageNetFloat32InONNXRuntimeLiteRTAndMediaPipe() throws {
    try checkInRuntimes(
      Case(
        name: "ImageNet", checkpoint: try ExportTestSupport.imageNetCheckpoint(),
        images: try referencePhotos(), float16: false, benchmark: true))
  }

  func testImageNetFloat16InONNXRuntimeLiteRTAndMediaPipe() throws {
    try checkInRuntimes(
      Case(
        name: "ImageNet16", checkpoint: try ExportTestSupport.imageNetCheckpoint(),
        images: try referencePhotos(), float16: true, benchmark: false))
  }

  func testTrainedHeadInONNXRuntimeLiteRTAndMediaPipe() throws {
    let trained = try ExportTestSupport.trainedCheckpoint()
    let images = try ExportTestSupport.heldOutImages().map(ExportTestSupport.swappingRedAndBlue)
    XCTAssertEqual(images.count, 12)
    for float16 in [false, true] {
      try checkInRuntimes(
        Case(
          name: float16 ? "Trained16" : "Trained", checkpoint: trained.checkpoint, images: images,
          float16: float16, benchmark: false))
    }
  }

  /// Photos of every shape, framed as an app frames them for the model (the framing the
  /// exported file states, computed here from the photo's size) and run by ONNX Runtime and
  /// LiteRT, get the probabilities `dropnet predict` gives the same files: for the centred
  /// square (Vision's default) and for the whole photo squashed (`.scaleFill`).
  func testPhotosOfEveryShapeGetWhatPredictSays() throws {
    let trained = try ExportTestSupport.trainedCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    // Landscape 16:9, portrait 3:4, a tall 1:2 strip and a square, cut off-centre from the
    // held-out photos so the centred square differs from the photo's middle band.
    let shapes: [(width: Int, height: Int)] = [(320, 180), (240, 320), (150, 300), (256, 256)]
    var paths: [String] = []
    let heldOut = ExportTestSupport.examples.appendingPathComponent("heldout")
    for (index, label) in try FileManager.default.contentsOfDirectory(atPath: heldOut.path)
      .sorted().enumerated()
    {
      let labelFolder = heldOut.appendingPathComponent(label)
      let name = try XCTUnwrap(
        try FileManager.default.contentsOfDirectory(atPath: labelFolder.path).sorted().first)
      let photo = try Image(contentsOf: labelFolder.appendingPathComponent(name).path)
      let shape = shapes[index % shapes.count]
      let scale = min(
        Double(photo.width) / Double(shape.width), Double(photo.height) / Double(shape.height))
      let width = Int(Double(shape.width) * scale)
      let height = Int(Double(shape.height) * scale)
      let cut = try ImagePreprocessor.crop(
        photo.bytes, width: photo.width, height: photo.height,
        to: .init(x: photo.width - width, y: 0, width: width, height: height))
      let path = folder.appendingPathComponent("\(label)-\(shape.width)x\(shape.height).png").path
      try Image(bytes: cut, width: width, height: height, channelCount: 3)
        .resized(width: shape.width, height: shape.height).write(to: path)
      paths.append(path)
    }
    XCTAssertEqual(paths.count, 4)

    for framing in InputFraming.allCases {
      var checkpoint = trained.checkpoint
      checkpoint.metadata.extra[InputFraming.metadataKey] = framing.rawValue
      // What `dropnet predict` computes for these files, one at a time as it does.
      let classifier = try CheckpointClassifier(checkpoint: checkpoint, threads: 2)
      let predicted = try paths.flatMap { path in
        try classifier.probabilities(
          CheckpointClassifier.input(contentsOf: path, framing: classifier.framing)
        ).map(Double.init)
      }
      // What an app hands the exported model: the part of the photo its framing names.
      let side = ImagePreprocessor.inputSize
      let appImages = try paths.map { path in
        let photo = try Image(contentsOf: path)
        let shorter = min(photo.width, photo.height)
        let framed =
          framing == .centerCrop
          ? try Image(
            bytes: ImagePreprocessor.crop(
              photo.bytes, width: photo.width, height: photo.height,
              to: .init(
                x: (photo.width - shorter) / 2, y: (photo.height - shorter) / 2, width: shorter,
                height: shorter)),
            width: shorter, height: shorter, channelCount: 3)
          : photo
        return ExportTestSupport.swappingRedAndBlue(
          try framed.resized(width: side, height: side).bytes)
      }
      let exported = try ModelExporter.export(
        checkpoint: checkpoint, name: "Shapes", to: folder.appendingPathComponent(framing.rawValue),
        formats: [.onnx, .tflite])
      let reports = try ExportTestSupport.runRuntimes(
        images: appImages, labels: classifier.labels,
        models: [
          (.onnx, try XCTUnwrap(exported.url(.onnx))),
          (.tflite, try XCTUnwrap(exported.url(.tflite))),
        ],
        benchmarkRuns: 0, folder: folder)
      XCTAssertEqual(reports[.onnx]?["inputFraming"] as? String, framing.rawValue)
      for (format, report) in reports {
        let rows = try XCTUnwrap(report["probabilities"] as? [[Double]], "\(format)")
        let (maximum, sameTop) = ExportTestSupport.compareProbabilities(
          predicted, rows.flatMap { $0 }, classCount: classifier.labels.count)
        print("photos of every shape, \(framing), \(format): max |p_app - p_predict| = \(maximum)")
        XCTAssertLessThanOrEqual(maximum, Self.float32Tolerance, "\(framing) \(format)")
        XCTAssertEqual(sameTop, [Bool](repeating: true, count: paths.count), "\(framing) \(format)")
      }
    }
  }

  func testARuntimeThatRejectsAFileFailsTheCheck() throws {
    // The check must be able to fail: a truncated model is rejected by its runtime, and the
    // script says so and exits non-zero.
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let result = try ModelExporter.export(
      checkpoint: checkpoint, name: "M", to: folder, formats: [.onnx, .tflite])
    for format in [ExportFormat.onnx, .tflite] {
      let url = try XCTUnwrap(result.url(format))
      let bytes = try Data(contentsOf: url)
      try bytes.prefix(bytes.count / 2).write(to: url)
      XCTAssertThrowsError(
        try ExportTestSupport.runRuntimes(
          images: try referencePhotos().prefix(1).map { $0 },
          labels: checkpoint.metadata.classLabels,
          models: [(format, url)], benchmarkRuns: 0, folder: folder), "\(format)"
      ) { error in
        print("a truncated \(format) file: \(error)")
      }
    }
  }
}
