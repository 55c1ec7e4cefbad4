import DropnetTestSupport
import Foundation
import XCTest

/// Runs the `dropnet` executable built beside the test bundle.
enum CLIFixtures {
  static var executable: URL {
    get throws {
      let candidates = [
        Bundle.main.bundleURL.deletingLastPathComponent(),
        Bundle.main.bundleURL,
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
      ].map { $0.appendingPathComponent("dropnet") }
      guard
        let found = candidates.first(where: {
          FileManager.default.isExecutableFile(atPath: $0.path)
        })
      else {
        throw TestFiles.Missing(
          "the dropnet executable is not built beside the tests; run `swift build` first")
      }
      return found
    }
  }

  /// A running process whose stdout and stderr are read line by line.
  struct Running {
    let process: Process
    let lines: AsyncLineSequence
  }

  /// Lines of a pipe, read as they arrive (blocking reads: the test waits on real output).
  struct AsyncLineSequence: Sequence, IteratorProtocol {
    let handle: FileHandle
    var buffer = Data()

    mutating func next() -> String? {
      while true {
        if let newline = buffer.firstIndex(of: 10) {
          let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
          buffer.removeSubrange(buffer.startIndex...newline)
          return line
        }
        let chunk = handle.availableData
        if chunk.isEmpty { return buffer.isEmpty ? nil : String(decoding: buffer, as: UTF8.self) }
        buffer.append(chunk)
      }
    }
  }

  /// Starts dropnet; stdout and stderr together are read as lines, unless `separateErrors`,
  /// which sends stderr to the test's own stderr.
  static func start(_ arguments: [String], separateErrors: Bool = false) throws -> Running {
    let process = Process()
    process.executableURL = try executable
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = separateErrors ? FileHandle.standardError : pipe
    try process.run()
    return Running(process: process, lines: AsyncLineSequence(handle: pipe.fileHandleForReading))
  }

  static func run(_ arguments: [String], separateErrors: Bool = false) throws -> (
    status: Int32, output: String
  ) {
    let running = try start(arguments, separateErrors: separateErrors)
    let output = running.lines.joined(separator: "\n")
    running.process.waitUntilExit()
    return (running.process.terminationStatus, output)
  }

  static func manifest(_ state: URL) throws -> [String: Any] {
    let data = try Data(contentsOf: state.appendingPathComponent("manifest.json"))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  /// The real ImageNet weights, imported once per test process with the CLI.
  private static let imported = Result { try importCheckpoint() }

  static func importedCheckpoint() throws -> URL { try imported.get() }

  private static func importCheckpoint() throws -> URL {
    let graph = TestFiles.packageRoot.appendingPathComponent(
      "examples/weights/mobilenet_v1_imagenet.pb")
    guard FileManager.default.fileExists(atPath: graph.path) else {
      throw TestFiles.Missing(
        "missing \(graph.path): run examples/fetch-weights.sh (Tests/run-tests.sh does)")
    }
    let out = try TestFiles.temporaryFolder().appendingPathComponent("imagenet.safetensors")
    let result = try CLIFixtures.run(["weights", "import", graph.path, "--out", out.path])
    guard result.status == 0, result.output.contains("imported 137 tensors") else {
      throw TestFiles.Missing("weights import failed: \(result.output)")
    }
    return out
  }

  /// Runs python3 with `arguments` (for coremltools checks), quietly: TensorFlow's start-up
  /// chatter off, and OPENBLAS_CORETYPE unset (NumPy's own OpenBLAS dies on it here).
  static func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    environment["OPENBLAS_CORETYPE"] = nil
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
  }
}
