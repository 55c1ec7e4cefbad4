import DropnetTestSupport
import Foundation
import XCTest

/// Runs the `dropnet` executable built beside the test bundle.
enum CLIFixtures {
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
    process.executableURL = try DropnetExecutable.url()
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

  /// The bundled example movies (examples/generated/drop) extracted by `dropnet extract`
  /// once per test process (`dropnet train` only reads the state folder), the held-out
  /// photos' folder, and `root`, a new temporary folder for the test's runs.
  static func extractExamples() throws -> (heldOut: URL, root: URL, state: URL) {
    let (heldOut, state) = try extracted.get()
    return (heldOut, try TestFiles.temporaryFolder(), state)
  }

  private static let extracted = Result { try extractOnce() }

  private static func extractOnce() throws -> (heldOut: URL, state: URL) {
    let examples = TestFiles.packageRoot.appendingPathComponent("examples/generated")
    let heldOut = examples.appendingPathComponent("heldout")
    guard FileManager.default.fileExists(atPath: heldOut.path) else {
      throw TestFiles.Missing("no example data: run examples/make-examples.sh")
    }
    let state = try TestFiles.temporaryFolder("examples").appendingPathComponent("state")
    let extract = try DropnetExecutable.run([
      "extract", "--drop", examples.appendingPathComponent("drop").path, "--state", state.path,
    ])
    guard extract.status == 0 else {
      throw TestFiles.Missing("dropnet extract of the examples failed: \(extract.output)")
    }
    return (heldOut, state)
  }

  static func manifest(_ state: URL) throws -> [String: Any] {
    let data = try Data(contentsOf: state.appendingPathComponent("manifest.json"))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }
}
