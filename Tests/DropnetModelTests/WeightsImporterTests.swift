import DropnetArchitecture
import DropnetEngine
import Foundation
import SwiftProtobuf
import XCTest

@testable import DropnetModel

/// The importer on small GraphDefs built here with the generated protobuf types.
final class WeightsImporterTests: XCTestCase {
  /// A Const node holding `tensor`.
  private func constNode(_ name: String, _ tensor: Tensorflow_TensorProto) -> Tensorflow_NodeDef {
    var node = Tensorflow_NodeDef()
    node.name = name
    node.op = "Const"
    var dtype = Tensorflow_AttrValue()
    dtype.type = tensor.dtype
    var value = Tensorflow_AttrValue()
    value.tensor = tensor
    node.attr = ["dtype": dtype, "value": value]
    return node
  }

  /// A float tensor stored the compact way TensorFlow uses for constant fills: one float_val
  /// that fills the whole shape.
  private func filledTensor(_ shape: [Int], _ value: Float) -> Tensorflow_TensorProto {
    var tensor = Tensorflow_TensorProto()
    tensor.dtype = .dtFloat
    tensor.tensorShape.dim = shape.map { size in
      var dim = Tensorflow_TensorShapeProto.Dim()
      dim.size = Int64(size)
      return dim
    }
    tensor.floatVal = [value]
    return tensor
  }

  /// A float tensor stored as packed little-endian tensor_content bytes.
  private func packedTensor(_ shape: [Int], _ values: [Float]) -> Tensorflow_TensorProto {
    var tensor = filledTensor(shape, 0)
    tensor.floatVal = []
    tensor.tensorContent = Data(
      values.flatMap { value in
        withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
      })
    return tensor
  }

  /// Value used for tensor number `index` of the layout, so a mix-up between names shows.
  private func marker(_ index: Int) -> Float { Float(index) * 0.25 - 3 }

  /// A graph with every MobileNet v1 tensor (each filled with its marker), an input node and
  /// an unrelated Const, optionally changed by `edit` before serialization.
  private func graphBytes(_ edit: (inout [String: Tensorflow_TensorProto]) -> Void = { _ in })
    -> Data
  {
    var tensors: [String: Tensorflow_TensorProto] = [:]
    for (index, spec) in MobileNetV1Architecture.tensorShapes().enumerated() {
      tensors[spec.name] = filledTensor(spec.shape, marker(index))
    }
    tensors["final_training_ops/weights/final_weights"] = filledTensor([1001, 2], 9)
    edit(&tensors)
    var graph = Tensorflow_GraphDef()
    var input = Tensorflow_NodeDef()
    input.name = "input"
    input.op = "Placeholder"
    graph.node = [input] + tensors.keys.sorted().map { constNode($0, tensors[$0]!) }
    graph.versions.producer = 26
    // Deterministic map order, so equal graphs give equal bytes (and equal hashes).
    var options = BinaryEncodingOptions()
    options.useDeterministicOrdering = true
    return try! graph.serializedData(options: options)
  }

  private func importGraph(_ bytes: Data) throws -> Checkpoint {
    try WeightsImporter.importGraph(
      serialized: bytes, file: "/graphs/test.pb", sourceFileName: "test.pb")
  }

  func testCompleteGraphImportsEveryTensorWithItsOwnValues() throws {
    let conv0 = "MobilenetV1/Conv2d_0/weights"
    let packedValues: [Float] = (0..<(3 * 3 * 3 * 32)).map { (index: Int) -> Float in
      Float(index) / 7 - 20
    }
    let bytes = graphBytes { $0[conv0] = packedTensor([3, 3, 3, 32], packedValues) }
    let checkpoint = try importGraph(bytes)

    XCTAssertEqual(checkpoint.tensors.count, MobileNetV1Architecture.tensorShapes().count)
    XCTAssertEqual(checkpoint.tensors[conv0]?.values, packedValues)
    for (index, spec) in MobileNetV1Architecture.tensorShapes().enumerated()
    where spec.name != conv0 {
      let tensor = try XCTUnwrap(checkpoint.tensors[spec.name], spec.name)
      XCTAssertEqual(tensor.shape, spec.shape, spec.name)
      XCTAssertEqual(tensor.values.count, spec.shape.reduce(1, *), spec.name)
      XCTAssertTrue(tensor.values.allSatisfy { $0 == marker(index) }, spec.name)
    }
    XCTAssertNil(checkpoint.tensors["final_training_ops/weights/final_weights"])

    let metadata = checkpoint.metadata
    XCTAssertEqual(metadata.architecture, "mobilenet_v1_1.0_224")
    XCTAssertEqual(metadata.preprocessing, "rgb_minus1_1")
    XCTAssertEqual(metadata.classLabels.count, 1001)
    XCTAssertEqual(metadata.classLabels.first, "background")
    XCTAssertEqual(metadata.sourceFileName, "test.pb")
    XCTAssertEqual(metadata.sourceSHA256?.count, 64)
    XCTAssertNil(metadata.extra[WeightsImporter.defaultedGammaKey])
  }

  func testSourceHashFollowsTheGraphBytes() throws {
    // The exact value is checked against sha256sum on the real graph (RealWeightsTests).
    let first = try importGraph(graphBytes()).metadata.sourceSHA256
    let again = try importGraph(graphBytes()).metadata.sourceSHA256
    let other = try importGraph(graphBytes { $0["extra"] = self.filledTensor([1], 1) })
      .metadata.sourceSHA256
    XCTAssertEqual(first, again)
    XCTAssertNotEqual(first, other)
  }

  func testMissingGammaIsAcceptedAsOnesAndRecorded() throws {
    let bytes = graphBytes {
      $0["MobilenetV1/Conv2d_0/BatchNorm/gamma"] = nil
      $0["MobilenetV1/Conv2d_5_pointwise/BatchNorm/gamma"] = nil
    }
    let checkpoint = try importGraph(bytes)
    XCTAssertEqual(
      checkpoint.tensors["MobilenetV1/Conv2d_0/BatchNorm/gamma"],
      HostTensor(shape: [32], values: [Float](repeating: 1, count: 32)))
    XCTAssertEqual(
      checkpoint.metadata.extra[WeightsImporter.defaultedGammaKey],
      "MobilenetV1/Conv2d_0,MobilenetV1/Conv2d_5_pointwise")
  }

  func testMissingTensorsAreAllListed() {
    let error = assertModelError(.missingTensor) {
      try importGraph(
        graphBytes {
          $0["MobilenetV1/Conv2d_3_depthwise/depthwise_weights"] = nil
          $0["MobilenetV1/Logits/Conv2d_1c_1x1/biases"] = nil
        })
    }
    let message = error?.message ?? ""
    XCTAssertTrue(message.contains("MobilenetV1/Conv2d_3_depthwise/depthwise_weights"), message)
    XCTAssertTrue(message.contains("MobilenetV1/Logits/Conv2d_1c_1x1/biases"), message)
    XCTAssertEqual(error?.file, "/graphs/test.pb")
  }

  func testWrongShapeNamesTheTensorAndBothShapes() {
    let error = assertModelError(.wrongShape) {
      try importGraph(
        graphBytes {
          $0["MobilenetV1/Conv2d_13_pointwise/weights"] = self.filledTensor([1, 1, 1024, 512], 0)
        })
    }
    let message = error?.message ?? ""
    XCTAssertTrue(message.contains("MobilenetV1/Conv2d_13_pointwise/weights"), message)
    XCTAssertTrue(message.contains("[1, 1, 1024, 512]"), message)
    XCTAssertTrue(message.contains("[1, 1, 1024, 1024]"), message)
  }

  func testContentWithTheWrongByteCount() {
    assertModelError(.shapeMismatch) {
      try importGraph(
        graphBytes {
          $0["MobilenetV1/Conv2d_0/BatchNorm/beta"] = self.packedTensor([32], [1, 2, 3])
        })
    }
  }

  func testNonFloatWeights() {
    assertModelError(.unsupportedDataType) {
      try importGraph(
        graphBytes {
          var tensor = self.filledTensor([32], 0)
          tensor.dtype = .dtInt32
          tensor.floatVal = []
          tensor.intVal = [1]
          $0["MobilenetV1/Conv2d_0/BatchNorm/beta"] = tensor
        })
    }
  }

  func testDoubleWeightsAreConvertedToFloat() throws {
    var tensor = filledTensor([32], 0)
    tensor.dtype = .dtDouble
    tensor.floatVal = []
    tensor.doubleVal = [0.5, 0.25]
    let checkpoint = try importGraph(
      graphBytes { $0["MobilenetV1/Conv2d_0/BatchNorm/beta"] = tensor })
    let values = try XCTUnwrap(checkpoint.tensors["MobilenetV1/Conv2d_0/BatchNorm/beta"]?.values)
    // TensorFlow's rule: the last listed value fills the rest.
    XCTAssertEqual(values, [0.5] + [Float](repeating: 0.25, count: 31))
  }

  func testTruncatedGraph() {
    let bytes = graphBytes()
    for fraction in [0.999, 0.5, 0.01] {
      let cut = bytes.prefix(Int(Double(bytes.count) * fraction))
      assertModelError(.truncated) { try importGraph(cut) }
    }
  }

  func testJPEGIsNotAGraphDef() {
    // The start of a JFIF file: SOI, APP0 marker, "JFIF\0", version, density.
    let jpeg = Data([
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00,
      0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00,
    ])
    assertModelError(.notAGraphDef) { try importGraph(jpeg) }
  }

  func testRandomBytesAreNotAGraphDef() {
    var generator = SeededRandom(seed: 7)
    for _ in 0..<20 {
      let bytes = Data((0..<4096).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
      // Random bytes are either rejected outright or, rarely, look like a cut-short field;
      // they must never import.
      do {
        _ = try importGraph(bytes)
        XCTFail("random bytes imported")
      } catch let error as ModelError {
        XCTAssertTrue([.notAGraphDef, .truncated].contains(error.code), "\(error)")
      } catch {
        XCTFail("unexpected \(error)")
      }
    }
  }

  func testGraphWithoutConstantsIsNotAFrozenGraph() throws {
    var graph = Tensorflow_GraphDef()
    var node = Tensorflow_NodeDef()
    node.name = "input"
    node.op = "Placeholder"
    graph.node = [node]
    assertModelError(.notAGraphDef) { try importGraph(try graph.serializedData()) }
  }

  func testEmptyFileIsNotAGraphDef() {
    assertModelError(.notAGraphDef) { try importGraph(Data()) }
  }

  func testMissingFile() {
    assertModelError(.fileNotFound) {
      try WeightsImporter.importGraph(at: URL(fileURLWithPath: "/nonexistent/graph.pb"))
    }
  }

  func testImportReadsFromDiskAndNamesTheFile() throws {
    let url = try ModelTestSupport.temporaryFolder(for: self).appendingPathComponent("g.pb")
    try graphBytes().write(to: url)
    XCTAssertEqual(try WeightsImporter.importGraph(at: url).metadata.sourceFileName, "g.pb")
    // Five bytes short: inside the last node, so the file is visibly cut.
    try graphBytes().dropLast(5).write(to: url)
    let error = assertModelError(.truncated) { try WeightsImporter.importGraph(at: url) }
    XCTAssertEqual(error?.file, url.path)
  }
}
