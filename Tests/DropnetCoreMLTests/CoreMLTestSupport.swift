import DropnetModel
import DropnetTestSupport
import Foundation
import XCTest

/// Paths, the real checkpoint and the coremltools runner shared by the CoreML tests.
enum CoreMLTestSupport {
  /// The package root.
  static let packageRoot = TestFiles.packageRoot

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
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path] + exports.map(\.argument)
    var environment = ProcessInfo.processInfo.environment
    // coremltools imports TensorFlow when it is installed; keep its start-up chatter out.
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    // The test set-up may export OPENBLAS_CORETYPE=SkylakeX for Debian's OpenBLAS; NumPy's own
    // OpenBLAS obeys it too and dies with SIGILL on CPUs without AVX-512. Let it detect the CPU.
    environment["OPENBLAS_CORETYPE"] = nil
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    var text = String(decoding: output, as: UTF8.self)
    if process.terminationReason == .uncaughtSignal {
      text += "\n(check_mlmodel.py was killed by signal \(process.terminationStatus))"
    }
    return (process.terminationStatus, text)
  }
}
