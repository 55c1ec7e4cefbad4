import DropnetCoreMLReader
import DropnetEngine
import DropnetModel
import Foundation
import XCTest

@testable import DropnetCoreML

/// Export failures: a clear error with the right code, and nothing half-written.
final class CoreMLExportErrorTests: XCTestCase {
  /// Asserts that `body` throws a `CoreMLExportError` with `code`; returns it.
  @discardableResult
  func assertExportError(
    _ code: CoreMLExportError.Code, file: StaticString = #filePath, line: UInt = #line,
    _ body: () throws -> Void
  ) -> CoreMLExportError? {
    do {
      try body()
      XCTFail("expected CoreMLExportError.\(code), nothing was thrown", file: file, line: line)
    } catch let error as CoreMLExportError {
      XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
      return error
    } catch {
      XCTFail("expected CoreMLExportError.\(code), got \(error)", file: file, line: line)
    }
    return nil
  }

  func testMissingCheckpointNamesThePathAndWritesNothing() throws {
    let folder = try CoreMLTestSupport.temporaryFolder(for: self)
    let output = folder.appendingPathComponent("out")
    let missing = folder.appendingPathComponent("nope.safetensors")
    let error = assertExportError(.checkpointUnreadable) {
      _ = try CoreMLExporter.export(checkpointAt: missing, name: "M", to: output)
    }
    XCTAssertEqual(error?.file, missing.path)
    XCTAssertTrue(
      error?.message.contains("no checkpoint at this path") ?? false, "\(String(describing: error))"
    )
    XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), "no output folder")
  }

  func testCheckpointWithoutLabelsIsRefusedAndWritesNothing() throws {
    var checkpoint = try CoreMLTestSupport.imageNetCheckpoint()
    checkpoint.metadata.classLabels = []
    let folder = try CoreMLTestSupport.temporaryFolder(for: self)
    let stored = folder.appendingPathComponent("unlabelled.safetensors")
    try checkpoint.write(to: stored)
    let output = folder.appendingPathComponent("out")
    let error = assertExportError(.missingLabels) {
      _ = try CoreMLExporter.export(checkpointAt: stored, name: "M", to: output)
    }
    XCTAssertTrue(
      error?.message.contains("no class labels") ?? false, "\(String(describing: error))")
    XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
  }

  func testLabelsThatDoNotMatchTheHeadAreRefused() throws {
    var checkpoint = try CoreMLTestSupport.imageNetCheckpoint()
    checkpoint.metadata.classLabels = ["cat", "dog"]
    let folder = try CoreMLTestSupport.temporaryFolder(for: self)
    let error = assertExportError(.missingLabels) {
      _ = try CoreMLExporter.export(checkpoint: checkpoint, name: "M", to: folder)
    }
    XCTAssertTrue(
      error?.message.contains("2 class labels but its head has 1001") ?? false,
      "\(String(describing: error))")
    XCTAssertEqual(try CoreMLTestSupport.contents(of: folder), [])
  }

  func testCheckpointMissingATensorIsRefused() throws {
    var checkpoint = try CoreMLTestSupport.imageNetCheckpoint()
    checkpoint.tensors["MobilenetV1/Conv2d_7_pointwise/weights"] = nil
    let folder = try CoreMLTestSupport.temporaryFolder(for: self)
    let error = assertExportError(.unsupportedCheckpoint) {
      _ = try CoreMLExporter.export(checkpoint: checkpoint, name: "M", to: folder)
    }
    XCTAssertTrue(
      error?.message.contains("Conv2d_7_pointwise/weights is missing") ?? false,
      "\(String(describing: error))")
    XCTAssertEqual(try CoreMLTestSupport.contents(of: folder), [])
  }

  func testOutputPathThatIsAFileIsRefused() throws {
    let checkpoint = try CoreMLTestSupport.imageNetCheckpoint()
    let folder = try CoreMLTestSupport.temporaryFolder(for: self)
    let file = folder.appendingPathComponent("taken")
    try Data("x".utf8).write(to: file)
    let error = assertExportError(.outputNotWritable) {
      _ = try CoreMLExporter.export(checkpoint: checkpoint, name: "M", to: file)
    }
    XCTAssertEqual(error?.file, file.path)
    XCTAssertEqual(try CoreMLTestSupport.contents(of: folder), ["taken"])
  }

  func testOutputFolderThatCannotBeCreatedIsRefused() throws {
    // /proc refuses new entries even to root (the tests may run as root, so permission bits
    // would not stop the write).
    let checkpoint = try CoreMLTestSupport.imageNetCheckpoint()
    let output = URL(fileURLWithPath: "/proc/dropnet-\(UUID().uuidString)")
    let error = assertExportError(.outputNotWritable) {
      _ = try CoreMLExporter.export(checkpoint: checkpoint, name: "M", to: output)
    }
    XCTAssertTrue(
      error?.message.contains("cannot create the output folder") ?? false,
      "\(String(describing: error))")
  }

  func testFailedWriteLeavesNoTemporaryFileAndKeepsWhatWasThere() throws {
    let checkpoint = try CoreMLTestSupport.imageNetCheckpoint()
    let folder = try CoreMLTestSupport.temporaryFolder(for: self)
    // A folder where the model should go: the temporary file is written and fsynced, then the
    // rename over a non-empty folder fails.
    let blocker = folder.appendingPathComponent("M.mlmodel")
    try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: false)
    try Data("keep".utf8).write(to: blocker.appendingPathComponent("inside"))
    let error = assertExportError(.outputNotWritable) {
      _ = try CoreMLExporter.export(checkpoint: checkpoint, name: "M", to: folder)
    }
    XCTAssertTrue(
      error?.message.contains("nothing was left half-written") ?? false,
      "\(String(describing: error))")
    XCTAssertEqual(try CoreMLTestSupport.contents(of: folder), ["M.mlmodel"])
    XCTAssertEqual(try CoreMLTestSupport.contents(of: blocker), ["inside"])
  }

  func testNamesThatAreNotPlainFileNamesAreRefused() throws {
    let checkpoint = try CoreMLTestSupport.imageNetCheckpoint()
    let folder = try CoreMLTestSupport.temporaryFolder(for: self)
    for name in ["", "../escape", ".hidden", "a/b", "tab\there"] {
      assertExportError(.invalidName) {
        _ = try CoreMLExporter.export(checkpoint: checkpoint, name: name, to: folder)
      }
    }
    XCTAssertEqual(try CoreMLTestSupport.contents(of: folder), [])
  }

  func testReaderRejectsBytesThatAreNotAModel() throws {
    assertExportError(.notACoreMLModel) {
      _ = try CoreMLClassifierFile(serialized: Data([0xFF, 0xFF, 0xFF]), file: "garbage")
    }
  }

  func testAFailureBetweenModelAndSummaryNeverRepeatsAVersion() throws {
    // The summary cannot be written (a folder sits where it goes) after the model was: the
    // model alone holds version 2. The next export must say 3, not restart from the summary.
    let checkpoint = try CoreMLTestSupport.imageNetCheckpoint()
    let folder = try CoreMLTestSupport.temporaryFolder(for: self)
    let first = try CoreMLExporter.export(checkpoint: checkpoint, name: "M", to: folder)
    XCTAssertEqual(first.summary.exportVersion, 1)
    try FileManager.default.removeItem(at: first.summaryURL)
    try FileManager.default.createDirectory(
      at: first.summaryURL.appendingPathComponent("blocker"), withIntermediateDirectories: true)
    assertExportError(.outputNotWritable) {
      _ = try CoreMLExporter.export(checkpoint: checkpoint, name: "M", to: folder)
    }
    XCTAssertEqual(try CoreMLClassifierFile(contentsOf: first.modelURL).metadata.versionString, "2")
    try FileManager.default.removeItem(at: first.summaryURL)
    let third = try CoreMLExporter.export(checkpoint: checkpoint, name: "M", to: folder)
    XCTAssertEqual(third.summary.exportVersion, 3)
    XCTAssertEqual(try CoreMLClassifierFile(contentsOf: third.modelURL).metadata.versionString, "3")
    XCTAssertEqual(
      try CoreMLTestSupport.contents(of: folder), ["M.json", "M.mlmodel"], "no temporary left")
  }
}
