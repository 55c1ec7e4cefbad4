import DropnetCoreMLReader
import DropnetEngine
import DropnetExport
import DropnetModel
import Foundation
import XCTest

/// Export failures: a clear error with the right code, and nothing half-written.
final class ExportErrorTests: XCTestCase {
  /// Asserts that `body` throws a `ExportError` with `code`; returns it.
  @discardableResult
  func assertExportError(
    _ code: ExportError.Code, file: StaticString = #filePath, line: UInt = #line,
    _ body: () throws -> Void
  ) -> ExportError? {
    do {
      try body()
      XCTFail("expected ExportError.\(code), nothing was thrown", file: file, line: line)
    } catch let error as ExportError {
      XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
      return error
    } catch {
      XCTFail("expected ExportError.\(code), got \(error)", file: file, line: line)
    }
    return nil
  }

  func testMissingCheckpointNamesThePathAndWritesNothing() throws {
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let output = folder.appendingPathComponent("out")
    let missing = folder.appendingPathComponent("nope.safetensors")
    let error = assertExportError(.checkpointUnreadable) {
      _ = try ExportTestSupport.exportCoreML(checkpointAt: missing, name: "M", to: output)
    }
    XCTAssertEqual(error?.file, missing.path)
    XCTAssertTrue(
      error?.message.contains("no checkpoint at this path") ?? false, "\(String(describing: error))"
    )
    XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), "no output folder")
  }

  func testCheckpointWithoutLabelsIsRefusedAndWritesNothing() throws {
    var checkpoint = try ExportTestSupport.imageNetCheckpoint()
    checkpoint.metadata.classLabels = []
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let stored = folder.appendingPathComponent("unlabelled.safetensors")
    try checkpoint.write(to: stored)
    let output = folder.appendingPathComponent("out")
    let error = assertExportError(.missingLabels) {
      _ = try ExportTestSupport.exportCoreML(checkpointAt: stored, name: "M", to: output)
    }
    XCTAssertTrue(
      error?.message.contains("no class labels") ?? false, "\(String(describing: error))")
    XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
  }

  func testLabelsThatDoNotMatchTheHeadAreRefused() throws {
    var checkpoint = try ExportTestSupport.imageNetCheckpoint()
    checkpoint.metadata.classLabels = ["cat", "dog"]
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let error = assertExportError(.missingLabels) {
      _ = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: folder)
    }
    XCTAssertTrue(
      error?.message.contains("2 class labels but its head has 1001") ?? false,
      "\(String(describing: error))")
    XCTAssertEqual(try ExportTestSupport.contents(of: folder), [])
  }

  func testCheckpointMissingATensorIsRefused() throws {
    var checkpoint = try ExportTestSupport.imageNetCheckpoint()
    checkpoint.tensors["MobilenetV1/Conv2d_7_pointwise/weights"] = nil
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let error = assertExportError(.unsupportedCheckpoint) {
      _ = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: folder)
    }
    XCTAssertTrue(
      error?.message.contains("Conv2d_7_pointwise/weights is missing") ?? false,
      "\(String(describing: error))")
    XCTAssertEqual(try ExportTestSupport.contents(of: folder), [])
  }

  func testOutputPathThatIsAFileIsRefused() throws {
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let file = folder.appendingPathComponent("taken")
    try Data("x".utf8).write(to: file)
    let error = assertExportError(.outputNotWritable) {
      _ = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: file)
    }
    XCTAssertEqual(error?.file, file.path)
    XCTAssertEqual(try ExportTestSupport.contents(of: folder), ["taken"])
  }

  func testOutputFolderThatCannotBeCreatedIsRefused() throws {
    // /proc refuses new entries even to root (the tests may run as root, so permission bits
    // would not stop the write).
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let output = URL(fileURLWithPath: "/proc/dropnet-\(UUID().uuidString)")
    let error = assertExportError(.outputNotWritable) {
      _ = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: output)
    }
    XCTAssertTrue(
      error?.message.contains("cannot create the output folder") ?? false,
      "\(String(describing: error))")
  }

  func testFailedWriteLeavesNoTemporaryFileAndKeepsWhatWasThere() throws {
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    // A folder where the model should go: the temporary file is written and fsynced, then the
    // rename over a non-empty folder fails.
    let blocker = folder.appendingPathComponent("M.mlmodel")
    try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: false)
    try Data("keep".utf8).write(to: blocker.appendingPathComponent("inside"))
    let error = assertExportError(.outputNotWritable) {
      _ = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: folder)
    }
    XCTAssertTrue(
      error?.message.contains("nothing was left half-written") ?? false,
      "\(String(describing: error))")
    XCTAssertEqual(try ExportTestSupport.contents(of: folder), ["M.mlmodel"])
    XCTAssertEqual(try ExportTestSupport.contents(of: blocker), ["inside"])
  }

  func testNamesThatAreNotPlainFileNamesAreRefused() throws {
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    for name in ["", "../escape", ".hidden", "a/b", "tab\there"] {
      assertExportError(.invalidName) {
        _ = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: name, to: folder)
      }
    }
    XCTAssertEqual(try ExportTestSupport.contents(of: folder), [])
  }

  func testReaderRejectsBytesThatAreNotAModel() throws {
    assertExportError(.notAModel) {
      _ = try CoreMLClassifierFile(serialized: Data([0xFF, 0xFF, 0xFF]), file: "garbage")
    }
  }

  func testAFailureBetweenModelAndSummaryNeverRepeatsAVersion() throws {
    // The summary cannot be written (a folder sits where it goes) after the model was: the
    // model alone holds version 2. The next export must say 3, not restart from the summary.
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let first = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: folder)
    XCTAssertEqual(first.summary.exportVersion, 1)
    try FileManager.default.removeItem(at: first.summaryURL)
    try FileManager.default.createDirectory(
      at: first.summaryURL.appendingPathComponent("blocker"), withIntermediateDirectories: true)
    assertExportError(.outputNotWritable) {
      _ = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: folder)
    }
    XCTAssertEqual(
      try CoreMLClassifierFile(contentsOf: first.mlmodelURL).metadata.versionString, "2")
    try FileManager.default.removeItem(at: first.summaryURL)
    let third = try ExportTestSupport.exportCoreML(checkpoint: checkpoint, name: "M", to: folder)
    XCTAssertEqual(third.summary.exportVersion, 3)
    XCTAssertEqual(
      try CoreMLClassifierFile(contentsOf: third.mlmodelURL).metadata.versionString, "3")
    XCTAssertEqual(
      try ExportTestSupport.contents(of: folder), ["M.json", "M.mlmodel"], "no temporary left")
  }
}
