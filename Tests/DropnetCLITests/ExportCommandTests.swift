import DropnetTestSupport
import Foundation
import XCTest

/// `dropnet export` as a user runs it (the files themselves are proven in DropnetExportTests).
final class ExportCommandTests: XCTestCase {
  func testExportWritesModelAndSummaryAndCountsVersionsUp() throws {
    let out = try TestFiles.temporaryFolder().appendingPathComponent("models")
    let arguments = [
      "export", "--checkpoint", try DropnetExecutable.imageNetWeights().path, "--out", out.path,
      "--name", "ImageNet",
    ]
    let first = try CLIFixtures.run(arguments)
    XCTAssertEqual(first.status, 0, first.output)
    XCTAssertTrue(first.output.contains("version 1"), first.output)
    XCTAssertEqual(
      Set(try FileManager.default.contentsOfDirectory(atPath: out.path)),
      ["ImageNet.mlmodel", "ImageNet.onnx", "ImageNet.tflite", "ImageNet.json"],
      "every format by default")
    let second = try CLIFixtures.run(arguments + ["--float16", "--format", "onnx, tflite"])
    XCTAssertEqual(second.status, 0, second.output)
    XCTAssertTrue(second.output.contains("ImageNet.onnx (version 2, "), second.output)
    XCTAssertTrue(second.output.contains("ImageNet.tflite (version 2, "), second.output)
    XCTAssertFalse(second.output.contains("ImageNet.mlmodel"), second.output)
    XCTAssertTrue(second.output.contains("float16"), second.output)
    let summary =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: out.appendingPathComponent("ImageNet.json"))) as? [String: Any]
    XCTAssertEqual((summary?["classLabels"] as? [String])?.count, 1001)
    let files = summary?["files"] as? [[String: Any]]
    XCTAssertEqual(
      files?.compactMap { $0["file"] as? String }, ["ImageNet.onnx", "ImageNet.tflite"])
    XCTAssertEqual(files?.compactMap { ($0["sha256"] as? String)?.count }, [64, 64])
  }

  func testAnUnknownFormatIsRefusedNamingTheKnownOnes() throws {
    let out = try TestFiles.temporaryFolder().appendingPathComponent("models")
    let result = try CLIFixtures.run([
      "export", "--checkpoint", try DropnetExecutable.imageNetWeights().path, "--out", out.path,
      "--format", "onnx,pt",
    ])
    XCTAssertEqual(result.status, 2, result.output)
    XCTAssertTrue(result.output.contains("unknown format \"pt\""), result.output)
    XCTAssertTrue(result.output.contains("mlmodel, onnx, tflite"), result.output)
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written")
  }

  func testAnOutputPathThatIsAFileIsRefused() throws {
    let file = try TestFiles.temporaryFolder().appendingPathComponent("not-a-folder")
    try Data("x".utf8).write(to: file)
    let result = try CLIFixtures.run([
      "export", "--checkpoint", try DropnetExecutable.imageNetWeights().path, "--out", file.path,
    ])
    XCTAssertEqual(result.status, 2, result.output)
    XCTAssertTrue(result.output.contains("not-a-folder"), result.output)
    XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "x")
  }

  func testAMissingCheckpointSaysWhatToPass() throws {
    let result = try CLIFixtures.run([
      "export", "--checkpoint", "/nonexistent/best.safetensors", "--out", "/tmp",
    ])
    XCTAssertEqual(result.status, 2)
    XCTAssertTrue(result.output.contains("/nonexistent/best.safetensors"), result.output)
    XCTAssertTrue(result.output.contains("dropnet train"), result.output)
  }
}
