import DropnetExport
import DropnetModel
import Foundation
import XCTest

@testable import DropnetTFLite

/// The pieces of the writers that need no runtime: the FlatBuffer builder, the ZIP writer,
/// format lists and the versions stored inside each format.
final class FormatWriterTests: XCTestCase {
  func testFlatBufferTablesReadBackAsBuilt() throws {
    var builder = FlatBufferBuilder(capacity: 16)  // grows while building
    let payload = Data((0..<100).map { UInt8($0) })
    let bytes = builder.bytes(payload, alignment: 16)
    let inner = builder.string("inner ✓")
    builder.startTable()
    builder.add(0, inner)
    builder.add(1, UInt32(7))
    let child = builder.endTable()
    let children = builder.vector([child, child])
    let name = builder.string("root")
    builder.startTable()
    builder.add(0, name)
    builder.add(2, UInt32(42))
    builder.add(3, children)
    builder.add(4, bytes)
    builder.add(5, UInt32(0))  // the default: left out
    let root = builder.endTable()
    let buffer = [UInt8](builder.finish(root: root, identifier: "TEST"))

    let table = try XCTUnwrap(FlatBufferTable(root: buffer, identifier: "TEST"))
    XCTAssertNil(FlatBufferTable(root: buffer, identifier: "TFL3"))
    XCTAssertEqual(table.string(0), "root")
    XCTAssertNil(table.string(1), "an absent field")
    XCTAssertEqual(table.uint32(2), 42)
    XCTAssertEqual(table.uint32(5, default: 9), 9)
    XCTAssertEqual(table.tables(3).map { $0.string(0) }, ["inner ✓", "inner ✓"])
    XCTAssertEqual(table.tables(3).map { $0.uint32(1) }, [7, 7])
    XCTAssertEqual(table.bytes(4), [UInt8](payload))
    // The byte vector's data is 16-byte aligned in the finished buffer.
    let start = try XCTUnwrap(
      (0...(buffer.count - payload.count)).first {
        Array(buffer[$0..<($0 + payload.count)]) == [UInt8](payload)
      })
    XCTAssertEqual(start % 16, 0)
    XCTAssertEqual(buffer.count % 16, 0)
  }

  func testZipCRCIsTheStandardOne() {
    XCTAssertEqual(StoredZip.crc32(Data("123456789".utf8)), 0xCBF4_3926)
  }

  func testFormatListsAreParsedInCanonicalOrder() throws {
    XCTAssertEqual(try ExportFormat.list("tflite,mlmodel"), [.mlmodel, .tflite])
    XCTAssertEqual(try ExportFormat.list(" ONNX "), [.onnx])
    XCTAssertEqual(ExportFormat.text(ExportFormat.allCases), "mlmodel,onnx,tflite")
    for bad in ["", "onnx,", "coreml"] {
      XCTAssertThrowsError(try ExportFormat.list(bad), bad) { error in
        XCTAssertEqual((error as? ExportError)?.code, .unknownFormat, bad)
      }
    }
  }

  func testEveryFormatStoresTheVersionAndTheNextExportCountsPastIt() throws {
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let first = try ModelExporter.export(checkpoint: checkpoint, name: "M", to: folder)
    XCTAssertEqual(first.summary.files.map(\.format), ExportFormat.allCases)
    for format in ExportFormat.allCases {
      let bytes = try Data(contentsOf: try XCTUnwrap(first.url(format)))
      XCTAssertEqual(ModelExporter.version(ofModel: bytes, format: format), 1, "\(format)")
      for other in ExportFormat.allCases where other != format {
        XCTAssertNil(ModelExporter.version(ofModel: bytes, format: other), "\(format) as \(other)")
      }
    }
    // Without the summary, the version inside any file still counts: a TFLite file alone.
    try FileManager.default.removeItem(at: first.summaryURL)
    try FileManager.default.removeItem(at: try XCTUnwrap(first.url(.mlmodel)))
    try FileManager.default.removeItem(at: try XCTUnwrap(first.url(.onnx)))
    let second = try ModelExporter.export(
      checkpoint: checkpoint, name: "M", to: folder, formats: [.onnx])
    XCTAssertEqual(second.summary.exportVersion, 2)
    XCTAssertEqual(second.summary.files.map(\.file), ["M.onnx"])
    XCTAssertNil(second.summary.specificationVersion, "no .mlmodel, no CoreML facts")
    XCTAssertEqual(
      try ExportTestSupport.contents(of: folder), ["M.json", "M.onnx", "M.tflite"],
      "no temporary left")
  }
}
