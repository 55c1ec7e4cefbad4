import DropnetModel
import Foundation

/// The nodes and initializers of one ONNX graph, added in execution order.
struct ONNXGraphBuilder {
  var graph = Onnx_GraphProto()
  let float16: Bool

  init(float16: Bool) { self.float16 = float16 }

  /// Adds a node named after its one output.
  mutating func node(
    _ operation: String, _ inputs: [String], _ output: String, ints: [String: [Int64]] = [:],
    int: [String: Int64] = [:]
  ) {
    var node = Onnx_NodeProto()
    node.opType = operation
    node.name = output
    node.input = inputs
    node.output = [output]
    var attributes: [Onnx_AttributeProto] = []
    for (name, values) in ints {
      var attribute = Onnx_AttributeProto()
      attribute.name = name
      attribute.type = .ints
      attribute.ints = values
      attributes.append(attribute)
    }
    for (name, value) in int {
      var attribute = Onnx_AttributeProto()
      attribute.name = name
      attribute.type = .int
      attribute.i = value
      attributes.append(attribute)
    }
    node.attribute = attributes.sorted { $0.name < $1.name }
    graph.node.append(node)
  }

  /// A float32 scalar constant; returns its name.
  mutating func scalar(_ name: String, _ value: Float) -> String {
    var tensor = Onnx_TensorProto()
    tensor.name = name
    tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
    tensor.rawData = WeightBytes.float32([value])
    graph.initializer.append(tensor)
    return name
  }

  /// Weights as an initializer named `name`, float32, or float16 widened by a Cast node to
  /// the float32 value `name`; returns the name of the float32 value.
  mutating func initializer(_ name: String, _ values: [Float], _ dimensions: [Int64]) -> String {
    var tensor = Onnx_TensorProto()
    tensor.dims = dimensions
    if float16 {
      tensor.name = name + "_float16"
      tensor.dataType = Int32(Onnx_TensorProto.DataType.float16.rawValue)
      tensor.rawData = WeightBytes.float16(values)
      graph.initializer.append(tensor)
      node(
        "Cast", [tensor.name], name, int: ["to": Int64(Onnx_TensorProto.DataType.float.rawValue)])
    } else {
      tensor.name = name
      tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
      tensor.rawData = WeightBytes.float32(values)
      graph.initializer.append(tensor)
    }
    return name
  }
}
