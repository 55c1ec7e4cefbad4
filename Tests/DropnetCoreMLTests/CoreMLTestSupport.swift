import DropnetModel
import DropnetTestSupport
import Foundation
import XCTest

/// Paths, the real checkpoint and the coremltools runner shared by the CoreML tests.
enum CoreMLTestSupport {
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
}
