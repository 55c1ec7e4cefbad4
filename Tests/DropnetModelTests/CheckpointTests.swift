import DropnetArchitecture
import DropnetEngine
import Foundation
import XCTest

@testable import DropnetModel

final class CheckpointTests: XCTestCase {
  /// A small checkpoint with awkward contents: a scalar, an empty tensor, non-ASCII labels,
  /// values that are not exactly representable in decimal, and extra metadata.
  private func sampleCheckpoint() -> Checkpoint {
    let tensors = [
      "MobilenetV1/Conv2d_0/weights": HostTensor(
        shape: [2, 1, 3], values: [0.1, -2.5, 3.0e-7, .greatestFiniteMagnitude, -0, 1 / 3]),
      "scale": HostTensor(shape: [], values: [42]),
      "empty": HostTensor(shape: [0, 4], values: []),
      "bias": HostTensor(shape: [3], values: [1, 2, 3]),
    ]
    let metadata = CheckpointMetadata(
      architecture: MobileNetV1Architecture.identifier,
      preprocessing: ImagePreprocessor.identifier,
      classLabels: ["background", "crème brûlée", "quote \" and, comma", "猫"],
      sourceFileName: "graph.pb", sourceSHA256: String(repeating: "ab", count: 32),
      extra: ["learning_rate": "0.001", "note": "{\"json\": \"inside\"}"])
    return Checkpoint(tensors: tensors, metadata: metadata)
  }

  func testRoundTripThroughFileKeepsTensorsAndMetadataExactly() throws {
    let folder = try ModelTestSupport.temporaryFolder(for: self)
    let url = folder.appendingPathComponent("model.safetensors")
    let original = sampleCheckpoint()
    try original.write(to: url)
    let reread = try Checkpoint.read(from: url)
    XCTAssertEqual(reread, original)
    XCTAssertEqual(reread.metadata.classLabels[3], "猫")
    XCTAssertEqual(reread.metadata.formatVersion, CheckpointMetadata.currentFormatVersion)
    // Only the checkpoint remains: the temporary file was renamed, not left behind.
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: folder.path), [url.lastPathComponent])
  }

  func testWriteReplacesAnExistingCheckpoint() throws {
    let url = try ModelTestSupport.temporaryFolder(for: self).appendingPathComponent(
      "m.safetensors")
    var checkpoint = sampleCheckpoint()
    try checkpoint.write(to: url)
    checkpoint.tensors["bias"] = HostTensor(shape: [3], values: [7, 8, 9])
    try checkpoint.write(to: url)
    XCTAssertEqual(try Checkpoint.read(from: url).tensors["bias"]?.values, [7, 8, 9])
  }

  func testLayoutFollowsTheSafetensorsFormat() throws {
    let bytes = try sampleCheckpoint().serialized()
    let headerLength = bytes.prefix(8).enumerated().reduce(0) {
      $0 | Int($1.element) << (8 * $1.offset)
    }
    // The data section starts 8-byte aligned and the padding is spaces.
    XCTAssertEqual((8 + headerLength) % 8, 0)
    let header = try XCTUnwrap(
      JSONSerialization.jsonObject(with: bytes[8..<(8 + headerLength)]) as? [String: Any])
    let weights = try XCTUnwrap(header["MobilenetV1/Conv2d_0/weights"] as? [String: Any])
    let bias = try XCTUnwrap(header["bias"] as? [String: Any])
    XCTAssertEqual(bias["dtype"] as? String, "F32")
    XCTAssertEqual(bias["shape"] as? [Int], [3])
    // Tensors are packed in byte-wise name order: "M..." (6 floats) before "bias".
    XCTAssertEqual(weights["data_offsets"] as? [Int], [0, 24])
    XCTAssertEqual(bias["data_offsets"] as? [Int], [24, 36])
    let metadata = try XCTUnwrap(header["__metadata__"] as? [String: String])
    XCTAssertEqual(metadata["architecture"], "mobilenet_v1_1.0_224")
    XCTAssertEqual(metadata["preprocessing"], "rgb_minus1_1")
    XCTAssertEqual(metadata["dropnet_format_version"], "1")
    XCTAssertEqual(metadata["learning_rate"], "0.001")
    // Raw little-endian floats: bias[0] = 1.0 is 00 00 80 3f.
    let biasStart = 8 + headerLength + 24
    XCTAssertEqual(Array(bytes[biasStart..<(biasStart + 4)]), [0, 0, 0x80, 0x3f])
  }

  func testReadingAFileThatDoesNotExistSaysSo() {
    let url = URL(fileURLWithPath: "/nonexistent/dropnet/model.safetensors")
    let error = assertModelError(.fileNotFound) { try Checkpoint.read(from: url) }
    XCTAssertEqual(error?.file, url.path)
  }

  func testWritingIntoAMissingFolderFailsCleanly() {
    let url = URL(fileURLWithPath: "/nonexistent/dropnet/model.safetensors")
    assertModelError(.writeFailed) { try sampleCheckpoint().write(to: url) }
  }

  func testExtraMetadataMayNotUseReservedKeys() throws {
    var checkpoint = sampleCheckpoint()
    checkpoint.metadata.extra["architecture"] = "resnet"
    assertModelError(.invalidMetadata) { try checkpoint.serialized() }
  }

  // MARK: - Corruption

  /// A file made of `header` (JSON text) and `data`, with a correct length prefix.
  private func file(header: String, data: [UInt8] = []) -> Data {
    var bytes = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: Array(header.utf8))
    bytes.append(contentsOf: data)
    return bytes
  }

  private let validMetadata =
    #""__metadata__":{"dropnet_format_version":"1","architecture":"a","preprocessing":"p","#
    + #""class_labels":"[\"x\"]"}"#

  private func parse(_ bytes: Data) throws -> Checkpoint {
    try Checkpoint(serialized: bytes, file: "/models/broken.safetensors")
  }

  func testHandMadeValidFileParses() throws {
    let bytes = file(
      header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"# + validMetadata + "}",
      data: [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40])
    XCTAssertEqual(try parse(bytes).tensors["t"], HostTensor(shape: [2], values: [1, 2]))
  }

  func testTruncatedBeforeTheHeaderLength() {
    let error = assertModelError(.truncated) { try parse(Data([1, 2, 3])) }
    XCTAssertEqual(error?.file, "/models/broken.safetensors")
  }

  func testHeaderLengthBeyondTheFile() throws {
    var bytes = try sampleCheckpoint().serialized()
    bytes = bytes.prefix(100)
    assertModelError(.truncated) { try parse(bytes) }
  }

  func testAbsurdHeaderLengthIsNotAttemptedAsJSON() {
    var bytes = Data(repeating: 0xff, count: 8)
    bytes.append(contentsOf: [UInt8](repeating: 0x20, count: 16))
    assertModelError(.malformedHeader) { try parse(bytes) }
  }

  func testTruncatedDataSection() throws {
    let bytes = try sampleCheckpoint().serialized()
    // Cutting the last float makes the last tensor's offsets run past the data section.
    assertModelError(.offsetsOutOfRange) { try parse(bytes.dropLast(4)) }
  }

  func testHeaderThatIsNotJSON() {
    assertModelError(.malformedHeader) { try parse(file(header: "{not json at all")) }
  }

  func testHeaderEntryOfTheWrongKind() {
    assertModelError(.malformedHeader) {
      try parse(file(header: #"{"t":[1,2,3],"# + validMetadata + "}"))
    }
  }

  func testOffsetsOutOfRange() {
    let header = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]},"# + validMetadata + "}"
    assertModelError(.offsetsOutOfRange) {
      try parse(file(header: header, data: [UInt8](repeating: 0, count: 8)))
    }
  }

  func testReversedOffsets() {
    let header = #"{"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]},"# + validMetadata + "}"
    assertModelError(.offsetsOutOfRange) {
      try parse(file(header: header, data: [UInt8](repeating: 0, count: 8)))
    }
  }

  func testOverlappingTensors() {
    let header =
      #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
      + #""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"# + validMetadata + "}"
    let error = assertModelError(.overlappingTensors) {
      try parse(file(header: header, data: [UInt8](repeating: 0, count: 12)))
    }
    XCTAssertTrue(error?.message.contains("\"a\"") ?? false, "\(String(describing: error))")
  }

  func testBytesBelongingToNoTensor() {
    let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"# + validMetadata + "}"
    assertModelError(.overlappingTensors) {
      try parse(file(header: header, data: [UInt8](repeating: 0, count: 8)))
    }
  }

  func testDataTypeOtherThanF32() {
    let header = #"{"t":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"# + validMetadata + "}"
    let error = assertModelError(.unsupportedDataType) {
      try parse(file(header: header, data: [0, 0, 0, 0]))
    }
    XCTAssertTrue(error?.message.contains("F16") ?? false)
  }

  func testShapeDisagreeingWithByteCount() {
    let header = #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]},"# + validMetadata + "}"
    assertModelError(.shapeMismatch) {
      try parse(file(header: header, data: [UInt8](repeating: 0, count: 8)))
    }
  }

  func testNegativeDimension() {
    let header = #"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]},"# + validMetadata + "}"
    assertModelError(.shapeMismatch) {
      try parse(file(header: header, data: [UInt8](repeating: 0, count: 8)))
    }
  }

  func testMissingDropnetMetadata() {
    assertModelError(.invalidMetadata) { try parse(file(header: "{}")) }
  }

  func testClassLabelsThatAreNotAJSONArray() {
    let header =
      #"{"__metadata__":{"dropnet_format_version":"1","architecture":"a","preprocessing":"p","#
      + #""class_labels":"cat,dog"}}"#
    assertModelError(.invalidMetadata) { try parse(file(header: header)) }
  }

  func testNewerFormatVersion() {
    let header =
      #"{"__metadata__":{"dropnet_format_version":"99","architecture":"a","preprocessing":"p","#
      + #""class_labels":"[]"}}"#
    assertModelError(.unsupportedVersion) { try parse(file(header: header)) }
  }
}
