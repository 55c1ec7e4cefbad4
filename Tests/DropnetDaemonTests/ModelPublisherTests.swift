import Crypto
import DropnetExport
import DropnetModel
import DropnetTestSupport
import Foundation
import XCTest

@testable import DropnetDaemon

/// Publishing every configured format in one step and version, without a daemon.
final class ModelPublisherTests: XCTestCase {
  func testEveryFormatIsPublishedWithOneVersionAndAFormatLeftOutIsRemoved() throws {
    let checkpoint = try Checkpoint.read(from: DropnetExecutable.imageNetWeights())
    let output = try TestFiles.temporaryFolder("publisher")
    var publisher = ModelPublisher(outputFolder: output, name: "Net", versionsKept: 2)
    XCTAssertEqual(publisher.formats, ExportFormat.allCases)

    let first = try publisher.publish(checkpoint)
    XCTAssertEqual(first.exportVersion, 1)
    XCTAssertEqual(
      Set(try FileManager.default.contentsOfDirectory(atPath: output.path)),
      ["Net.mlmodel", "Net.onnx", "Net.tflite", "Net.json", "versions"], "no staging left")
    let summary = try JSONDecoder().decode(
      ExportSummary.self, from: Data(contentsOf: publisher.summaryURL))
    XCTAssertEqual(summary, first)
    for entry in summary.files {
      let bytes = try Data(contentsOf: publisher.modelURL(entry.format))
      XCTAssertEqual(entry.file, "Net.\(entry.format)")
      XCTAssertEqual(entry.byteCount, bytes.count)
      XCTAssertEqual(
        entry.sha256, SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
      XCTAssertEqual(ModelExporter.version(ofModel: bytes, format: entry.format), 1)
      XCTAssertEqual(try Data(contentsOf: publisher.versionURL(1, format: entry.format)), bytes)
    }

    // Two more versions with ONNX left out: its published file goes, versions/ keeps two.
    publisher.formats = [.mlmodel, .tflite]
    _ = try publisher.publish(checkpoint)
    let third = try publisher.publish(checkpoint)
    XCTAssertEqual(third.exportVersion, 3)
    XCTAssertEqual(third.files.map(\.format), [.mlmodel, .tflite])
    XCTAssertFalse(FileManager.default.fileExists(atPath: publisher.modelURL(.onnx).path))
    XCTAssertEqual(publisher.versions(), [2, 3])
    XCTAssertEqual(
      Set(try FileManager.default.contentsOfDirectory(atPath: publisher.versionsFolder.path)),
      ["Net-2.mlmodel", "Net-2.tflite", "Net-3.mlmodel", "Net-3.tflite"])
    for format in [ExportFormat.mlmodel, .tflite] {
      let bytes = try Data(contentsOf: publisher.modelURL(format))
      XCTAssertEqual(ModelExporter.version(ofModel: bytes, format: format), 3, "\(format)")
    }
  }

  /// The model card pages travel with the model: staged and renamed with it, pruned with its
  /// version, and never left beside a model they do not describe.
  func testPagesArePublishedPrunedAndRemovedWithTheirModel() throws {
    let checkpoint = try Checkpoint.read(from: DropnetExecutable.imageNetWeights())
    let output = try TestFiles.temporaryFolder("publisher")
    let publisher = ModelPublisher(
      outputFolder: output, name: "M", versionsKept: 1, formats: [.mlmodel])
    func pages(_ summary: ExportSummary) -> ModelPublisher.Pages {
      ModelPublisher.Pages(
        current: Data("page \(summary.exportVersion)".utf8),
        version: Data("version page \(summary.exportVersion)".utf8))
    }
    func text(_ path: String) -> String? {
      FileManager.default.contents(atPath: output.appendingPathComponent(path).path).map {
        String(decoding: $0, as: UTF8.self)
      }
    }
    func versions() throws -> Set<String> {
      Set(try FileManager.default.contentsOfDirectory(atPath: publisher.versionsFolder.path))
    }

    _ = try publisher.publish(checkpoint, pages: pages)
    XCTAssertEqual(text("M.html"), "page 1")
    XCTAssertEqual(text("versions/M-1.html"), "version page 1")
    _ = try publisher.publish(checkpoint, pages: pages)
    XCTAssertEqual(text("M.html"), "page 2")
    XCTAssertEqual(try versions(), ["M-2.html", "M-2.mlmodel"], "version 1 pruned, page too")
    // No page this time: the one of version 2 must not stay beside version 3.
    _ = try publisher.publish(checkpoint)
    XCTAssertNil(text("M.html"))
    XCTAssertEqual(try versions(), ["M-3.mlmodel"])
    XCTAssertEqual(
      Set(try FileManager.default.contentsOfDirectory(atPath: output.path)),
      ["M.json", "M.mlmodel", "versions"], "nothing staged is left")
  }

  func testAFailedExportLeavesThePublishedFilesAsTheyWere() throws {
    let checkpoint = try Checkpoint.read(from: DropnetExecutable.imageNetWeights())
    let output = try TestFiles.temporaryFolder("publisher")
    let publisher = ModelPublisher(outputFolder: output, name: "Net", versionsKept: 2)
    _ = try publisher.publish(checkpoint)
    let before = try ExportFormat.allCases.map { try Data(contentsOf: publisher.modelURL($0)) }
    var unlabelled = checkpoint
    unlabelled.metadata.classLabels = ["only one"]
    XCTAssertThrowsError(try publisher.publish(unlabelled)) { error in
      XCTAssertEqual((error as? DaemonError)?.code, .publishFailed, "\(error)")
    }
    XCTAssertEqual(
      try ExportFormat.allCases.map { try Data(contentsOf: publisher.modelURL($0)) }, before)
    XCTAssertEqual(publisher.versions(), [1])
  }
}
