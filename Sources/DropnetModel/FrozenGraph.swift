import DropnetArchitecture
import Foundation
import SwiftProtobuf

/// A TensorFlow frozen GraphDef: a graph whose variables were turned into Const nodes.
/// Only the constants are of interest here; the graph's ops are not executed.
struct FrozenGraph {
  /// The decoded graph.
  let graph: Tensorflow_GraphDef
  /// The file it came from, for messages.
  let file: String

  /// Field numbers and wire types a GraphDef may have at its top level
  /// (node 1, library 2, version 3, versions 4, debug_info 5).
  private static let topLevelWireTypes: [UInt64: UInt64] = [
    1: lengthDelimited, 2: lengthDelimited, 3: varint, 4: lengthDelimited, 5: lengthDelimited,
  ]
  private static let varint: UInt64 = 0
  private static let lengthDelimited: UInt64 = 2

  /// Decodes `bytes` as a GraphDef, telling a truncated graph from something that is not a
  /// graph at all.
  init(decoding bytes: Data, file: String) throws {
    self.file = file
    try Self.checkTopLevel(bytes, file: file)
    do {
      graph = try Tensorflow_GraphDef(serializedBytes: bytes)
    } catch {
      throw ModelError(
        code: .notAGraphDef, file: file,
        message: "the protobuf inside does not decode as a GraphDef (\(error)); pass a frozen "
          + "TensorFlow .pb such as the one examples/fetch-weights.sh downloads")
    }
    guard graph.node.contains(where: { $0.op == "Const" }) else {
      throw ModelError(
        code: .notAGraphDef, file: file,
        message: "the GraphDef has \(graph.node.count) nodes and no Const node, so it holds no "
          + "weights; pass a frozen graph (variables converted to constants)")
    }
  }

  /// Walks the top-level fields without decoding them. A GraphDef is a sequence of
  /// (tag, value) pairs with field numbers 1...5; anything else means another kind of file,
  /// and a field whose length runs past the end means the file was cut short.
  private static func checkTopLevel(_ bytes: Data, file: String) throws {
    let hint = "pass a frozen TensorFlow GraphDef (.pb), e.g. from examples/fetch-weights.sh"
    guard !bytes.isEmpty else {
      throw ModelError(code: .notAGraphDef, file: file, message: "the file is empty; \(hint)")
    }
    try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
      var offset = 0
      var fieldCount = 0
      func readVarint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < raw.count, shift < 64 {
          let byte = raw[offset]
          offset += 1
          value |= UInt64(byte & 0x7f) << shift
          if byte & 0x80 == 0 { return value }
          shift += 7
        }
        return nil
      }
      func cutShort(_ what: String) -> ModelError {
        ModelError(
          code: .truncated, file: file,
          message: "\(what) after \(fieldCount) complete top-level fields: the file is cut "
            + "short (\(raw.count) bytes); download it again (examples/fetch-weights.sh)")
      }
      while offset < raw.count {
        let fieldStart = offset
        guard let tag = readVarint() else { throw cutShort("the last field tag is incomplete") }
        let fieldNumber = tag >> 3
        let wireType = tag & 7
        guard Self.topLevelWireTypes[fieldNumber] == wireType else {
          throw ModelError(
            code: .notAGraphDef, file: file,
            message: "byte \(fieldStart) holds protobuf field \(fieldNumber) with wire type "
              + "\(wireType), which a GraphDef never has: this is not a GraphDef; \(hint)")
        }
        guard let length = readVarint() else {
          throw cutShort("field \(fieldNumber) at byte \(fieldStart) is incomplete")
        }
        if wireType == Self.lengthDelimited {
          guard length <= UInt64(raw.count - offset) else {
            throw cutShort(
              "field \(fieldNumber) at byte \(fieldStart) needs \(length) bytes but only "
                + "\(raw.count - offset) remain")
          }
          offset += Int(length)
        }
        fieldCount += 1
      }
    }
  }

  /// Const nodes by name, for every Const in the graph.
  func constants() -> [String: Tensorflow_TensorProto] {
    var result: [String: Tensorflow_TensorProto] = [:]
    for node in graph.node where node.op == "Const" {
      if let value = node.attr["value"], case .tensor(let tensor)? = value.value {
        result[node.name] = tensor
      }
    }
    return result
  }

  /// The shape of `tensor` as plain integers (unknown dimensions stay -1).
  static func shape(of tensor: Tensorflow_TensorProto) -> [Int] {
    tensor.tensorShape.dim.map { Int($0.size) }
  }

  /// The float values of Const `name`, whose tensor is `tensor`. Accepts packed
  /// `tensor_content` bytes, or `float_val`/`double_val` where, as in TensorFlow, a list
  /// shorter than the shape is filled out with its last value.
  func floatTensor(named name: String, _ tensor: Tensorflow_TensorProto) throws -> HostTensor {
    let shape = Self.shape(of: tensor)
    guard let count = SafetensorsFile.elementCount(shape) else {
      throw ModelError(
        code: .shapeMismatch, file: file,
        message: "Const \(name) has shape \(shape), which is not a fixed size; the graph is "
          + "not frozen or is damaged")
    }
    func mismatch(_ found: String) -> ModelError {
      ModelError(
        code: .shapeMismatch, file: file,
        message: "Const \(name) has shape \(shape) (\(count) values) but stores \(found); the "
          + "graph is damaged: download it again")
    }
    switch tensor.dtype {
    case .dtFloat:
      if !tensor.tensorContent.isEmpty {
        guard tensor.tensorContent.count == count * 4 else {
          throw mismatch("\(tensor.tensorContent.count) content bytes")
        }
        let content = tensor.tensorContent
        let values = SafetensorsFile.readLittleEndian(
          content, from: content.startIndex, count: count)
        return HostTensor(shape: shape, values: values)
      }
      return try HostTensor(shape: shape, values: Self.filled(tensor.floatVal, count, mismatch))
    case .dtDouble:
      if !tensor.tensorContent.isEmpty {
        guard tensor.tensorContent.count == count * 8 else {
          throw mismatch("\(tensor.tensorContent.count) content bytes")
        }
        let values = tensor.tensorContent.withUnsafeBytes { raw in
          (0..<count).map { index in
            Float(
              Double(
                bitPattern: UInt64(
                  littleEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))))
          }
        }
        return HostTensor(shape: shape, values: values)
      }
      let doubles = try Self.filled(tensor.doubleVal, count, mismatch)
      return HostTensor(shape: shape, values: doubles.map { Float($0) })
    default:
      throw ModelError(
        code: .unsupportedDataType, file: file,
        message: "Const \(name) has dtype \(tensor.dtype); only float32 (or float64, converted) "
          + "weights can be imported: this graph is quantized or otherwise converted, use the "
          + "float frozen graph")
    }
  }

  /// `values` stretched to `count` by repeating its last element (TensorFlow's rule for
  /// short typed value lists); an empty list means all zeros.
  private static func filled<Value: Numeric>(
    _ values: [Value], _ count: Int, _ mismatch: (String) -> ModelError
  ) throws -> [Value] {
    if values.count == count { return values }
    guard values.count < count else { throw mismatch("\(values.count) values") }
    guard let last = values.last else { return [Value](repeating: 0, count: count) }
    return values + [Value](repeating: last, count: count - values.count)
  }
}
