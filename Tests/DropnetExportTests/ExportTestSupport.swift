import DropnetDataset
import DropnetEngine
import DropnetExport
import DropnetModel
import DropnetTestSupport
import DropnetTraining
import Foundation
import Logging
import XCTest

/// Paths, the real checkpoints, photos and the Python runners shared by the export tests.
enum ExportTestSupport {
  /// Exports `checkpoint` as a .mlmodel only (the CoreML tests' format).
  static func exportCoreML(
    checkpoint: Checkpoint, name: String, to folder: URL, options: ExportOptions = ExportOptions()
  ) throws -> ExportResult {
    try ModelExporter.export(
      checkpoint: checkpoint, name: name, to: folder, formats: [.mlmodel], options: options)
  }

  /// Reads the checkpoint at `checkpointAt` and exports it as a .mlmodel only.
  static func exportCoreML(checkpointAt url: URL, name: String, to folder: URL) throws
    -> ExportResult
  {
    try ModelExporter.export(checkpointAt: url, name: name, to: folder, formats: [.mlmodel])
  }

  /// The package root.
  static let packageRoot = TestFiles.packageRoot

  /// Largest |expected - actual| over two row-major [images, classCount] probability tables,
  /// and whether each image's top class agrees.
  static func compareProbabilities(_ expected: [Double], _ actual: [Double], classCount: Int)
    -> (maximum: Double, sameTop: [Bool])
  {
    XCTAssertEqual(expected.count, actual.count)
    var maximum = 0.0
    var sameTop: [Bool] = []
    for image in 0..<(expected.count / classCount) {
      let rows = (image * classCount)..<((image + 1) * classCount)
      for index in rows { maximum = max(maximum, abs(expected[index] - actual[index])) }
      sameTop.append(
        rows.max { expected[$0] < expected[$1] } == rows.max { actual[$0] < actual[$1] })
    }
    return (maximum, sameTop)
  }

  /// The ImageNet checkpoint imported from examples/weights (imported once per test run).
  static func imageNetCheckpoint() throws -> Checkpoint {
    try imported.get()
  }

  private static let imported: Result<Checkpoint, any Error> = Result {
    let url = packageRoot.appendingPathComponent("examples/weights/mobilenet_v1_imagenet.pb")
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw TestFiles.Missing(
        "\(url.path) is missing: run examples/fetch-weights.sh from the package root first")
    }
    return try WeightsImporter.importGraph(at: url)
  }

  /// The real photos of DropnetModelTests' reference fixtures (OpenCV and scikit-image
  /// samples, 224x224 RGB) with TensorFlow's outputs, as paths without extension.
  static let referencePhotoStems: [String] = ["baboon", "orange", "squirrel", "chelsea", "coffee"]
    .map {
      packageRoot.appendingPathComponent("Tests/DropnetModelTests/Fixtures/reference/\($0)").path
    }

  /// A fresh empty folder, removed when the test ends.
  static func temporaryFolder(for testCase: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("dropnet-coreml-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
  }

  /// The names in `folder`, sorted (hidden temporary files included).
  static func contents(of folder: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
  }

  /// One export for check_mlmodel.py: the files and what the export was asked for.
  struct CheckedExport {
    var model: URL
    var summary: URL
    var float16 = false
    var updatable = false
    /// Reference photo paths without extension (STEM.rgb, STEM.json) to run the layers on.
    var photos: [String] = []

    var argument: String {
      var parts = [model.path, summary.path]
      if float16 { parts.append("float16") }
      if updatable { parts.append("updatable") }
      parts += photos.map { "photo=" + $0 }
      return parts.joined(separator: ",")
    }
  }

  /// Runs check_mlmodel.py (coremltools) on exports, in one Python process (coremltools
  /// takes seconds to import); returns its exit status and output (one JSON line per export).
  static func runCoreMLTools(_ exports: [CheckedExport]) throws -> (status: Int32, output: String) {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("check_mlmodel.py")
    let result = try ChildProcess.python([script.path] + exports.map(\.argument))
    var text = result.output
    if result.killedBySignal {
      text += "\n(check_mlmodel.py was killed by signal \(result.status))"
    }
    return (result.status, text)
  }

  /// check_runtimes.py failed: a runtime rejected a file, or a check did not hold.
  struct RuntimeCheckFailed: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
  }

  /// The reports of check_runtimes.py for `models` (format, file) run on `images` (224x224
  /// packed RGB each) with `labels`, by format, in one Python process. Throws with the
  /// script's output when it fails: a runtime that rejects a file fails the test.
  static func runRuntimes(
    images: [[UInt8]], labels: [String], models: [(ExportFormat, URL)], benchmarkRuns: Int,
    folder: URL
  ) throws -> [ExportFormat: [String: Any]] {
    let imagesFile = folder.appendingPathComponent("images.rgb")
    try Data(images.flatMap { $0 }).write(to: imagesFile)
    let spec: [String: Any] = [
      "images": imagesFile.path, "count": images.count, "labels": labels,
      "models": models.map { ["format": $0.0.rawValue, "path": $0.1.path] },
      "benchmarkRuns": benchmarkRuns, "threads": 2,
    ]
    let specFile = folder.appendingPathComponent("spec.json")
    try JSONSerialization.data(withJSONObject: spec).write(to: specFile)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("check_runtimes.py")
    let result = try ChildProcess.python([script.path, specFile.path])
    guard result.status == 0, !result.killedBySignal else {
      throw RuntimeCheckFailed(
        "check_runtimes.py failed (status \(result.status)): "
          + result.output.split(separator: "\n").filter {
            !$0.hasPrefix("W0000") && !$0.hasPrefix("I0000")
          }.suffix(12).joined(separator: "\n"))
    }
    var reports: [ExportFormat: [String: Any]] = [:]
    for line in result.output.split(separator: "\n") where line.hasPrefix("{\"") {
      let report = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      if let report, let format = (report["format"] as? String).flatMap(ExportFormat.init) {
        reports[format] = report
      }
    }
    guard reports.count == models.count else {
      throw TestFiles.Missing(
        "check_runtimes.py reported \(reports.count) of \(models.count) models")
    }
    return reports
  }

  /// A checkpoint whose head was trained on the example frames, with its training facts.
  struct Trained: @unchecked Sendable {
    let checkpoint: Checkpoint
    let facts: TrainingFacts
  }

  nonisolated(unsafe) private static var trained: Trained?
  private static let lock = NSLock()

  static var examples: URL { packageRoot.appendingPathComponent("examples/generated") }

  /// A head trained briefly (8 frames per class and side, 5 epochs) on features of the
  /// extracted example movies; made once per test process.
  static func trainedCheckpoint() throws -> Trained {
    lock.lock()
    defer { lock.unlock() }
    if let trained { return trained }
    let drop = examples.appendingPathComponent("drop")
    guard FileManager.default.fileExists(atPath: drop.path) else {
      throw TestFiles.Missing("\(drop.path) is missing: run bash examples/make-examples.sh")
    }
    let base = try imageNetCheckpoint()
    let state = try TestFiles.temporaryFolder("export-state")
    let summary = try DatasetBuilder(
      dropFolder: drop, stateFolder: state, settings: ExtractionSettings(),
      logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    ).run()
    var settings = TrainingSettings()
    settings.precision = .float32
    settings.epochs = 5
    settings.maximumFramesPerClass = 8
    settings.batchSize = 8
    settings.learningRate = 0.01
    let cache = try FeatureCache(
      baseWeights: base.tensors, stateFolder: state, augmentation: settings.cachedAugmentation,
      threads: 2)
    let result = try Trainer(settings: settings).train(
      manifest: summary.manifest, stateFolder: state, start: base, cache: cache)
    let facts = TrainingFacts(
      result: result, split: .leakFree, dropnetVersion: "test",
      trainingDate: Date(timeIntervalSince1970: 1_800_000_000))
    let checkpoint = result.checkpoint(from: base, facts: facts.entries)
    let made = Trained(checkpoint: checkpoint, facts: facts)
    trained = made
    return made
  }

  /// The held-out photos (never in any movie) as the phone gives them to the model and predict
  /// frames them (Vision's .centerCrop: the centred square, resized): BGR.
  static func heldOutImages() throws -> [[UInt8]] {
    let heldOut = examples.appendingPathComponent("heldout")
    var images: [[UInt8]] = []
    for label in try FileManager.default.contentsOfDirectory(atPath: heldOut.path).sorted() {
      let folder = heldOut.appendingPathComponent(label)
      for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
      where name.hasSuffix(".jpg") {
        images.append(
          try CheckpointClassifier.networkImage(
            contentsOf: folder.appendingPathComponent(name).path, framing: .centerCrop
          ).bytes)
      }
    }
    return images
  }

  /// Packed BGR pixels as RGB (or RGB as BGR).
  static func swappingRedAndBlue(_ pixels: [UInt8]) -> [UInt8] {
    var swapped = pixels
    for pixel in stride(from: 0, to: pixels.count, by: 3) {
      swapped[pixel] = pixels[pixel + 2]
      swapped[pixel + 2] = pixels[pixel]
    }
    return swapped
  }
}

extension ExportResult {
  /// The .mlmodel written.
  var mlmodelURL: URL { modelURLs[.mlmodel]! }
}

extension ExportSummary {
  /// The size of the .mlmodel written.
  var mlmodelByteCount: Int { file(.mlmodel)!.byteCount }
}
