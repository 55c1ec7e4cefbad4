import DropnetModel
import Foundation

/// The one subgraph of a TFLite model as `TFLiteModelWriter` lays it out: tensors, constant
/// buffers and operators in execution order, then serialised into the model FlatBuffer.
struct TFLiteGraph {
  /// Builtin operators by their schema codes, with the operator version their use needs.
  enum Operation: Int32 {
    case averagePool2D = 1
    case conv2D = 3
    case depthwiseConv2D = 4
    case dequantize = 6
    case fullyConnected = 9
    case reshape = 22
    case softmax = 25
  }

  /// Options of one operator (the schema's BuiltinOptions union).
  enum Options {
    case conv2D(stride: Int, relu6: Bool)
    case depthwiseConv2D(stride: Int, relu6: Bool)
    case averagePool2D(size: Int)
    case fullyConnected(relu: Bool)
    case reshape(shape: [Int32])
    case softmax
    case dequantize
  }

  enum TensorType: UInt8 {
    case float32 = 0
    case float16 = 1
    case int32 = 2
  }

  struct Tensor {
    var name: String
    var shape: [Int32]
    var type: TensorType
    /// Index into `buffers`; 0 (the empty buffer) for values computed at run time.
    var buffer: UInt32
  }

  struct Operator {
    var operation: Operation
    var inputs: [Int32]
    var outputs: [Int32]
    var options: Options
  }

  let float16: Bool
  private(set) var tensors: [Tensor] = []
  /// Buffer 0 is empty, as the schema asks.
  private(set) var buffers: [Data] = [Data()]
  private(set) var operators: [Operator] = []
  private(set) var inputs: [Int32] = []
  private(set) var outputs: [Int32] = []

  init(float16: Bool) { self.float16 = float16 }

  /// Adds a tensor computed at run time; returns its index.
  private mutating func activation(_ name: String, _ shape: [Int]) -> Int32 {
    tensors.append(Tensor(name: name, shape: shape.map(Int32.init), type: .float32, buffer: 0))
    return Int32(tensors.count - 1)
  }

  /// Adds constant float weights (float16 widened by a DEQUANTIZE operator when asked);
  /// returns the index of the float32 tensor.
  private mutating func weights(_ name: String, _ values: [Float], _ shape: [Int]) -> Int32 {
    let dimensions = shape.map(Int32.init)
    if float16 {
      buffers.append(WeightBytes.float16(values))
      tensors.append(
        Tensor(
          name: name + "_float16", shape: dimensions, type: .float16,
          buffer: UInt32(buffers.count - 1)))
      let half = Int32(tensors.count - 1)
      let widened = activation(name, shape)
      operators.append(
        Operator(operation: .dequantize, inputs: [half], outputs: [widened], options: .dequantize))
      return widened
    }
    buffers.append(WeightBytes.float32(values))
    tensors.append(
      Tensor(name: name, shape: dimensions, type: .float32, buffer: UInt32(buffers.count - 1)))
    return Int32(tensors.count - 1)
  }

  /// Adds the whole network: input, convolutions, pooling, classifier, softmax.
  mutating func add(_ network: InferenceNetwork) throws {
    let size = network.inputSize
    var blob = activation(TFLiteModelWriter.inputName, [1, size, size, 3])
    inputs = [blob]
    var side = size
    for convolution in network.convolutions {
      let layer = convolution.layer
      let name = layer.shortName
      let kernel = layer.kernelSize
      let outputChannels = layer.outputChannels
      // Output-major [O, I/groups, K, K] becomes OHWI; depthwise [C, 1, K, K] becomes
      // [1, K, K, C].
      let perOutput = layer.kernelChannels * kernel * kernel
      var filter = [Float](repeating: 0, count: convolution.weights.count)
      for output in 0..<outputChannels {
        for input in 0..<layer.kernelChannels {
          for row in 0..<kernel {
            for column in 0..<kernel {
              let source =
                output * perOutput + (input * kernel + row) * kernel + column
              let target =
                layer.kind == .depthwise
                ? (row * kernel + column) * outputChannels + output
                : ((output * kernel + row) * kernel + column) * layer.kernelChannels + input
              filter[target] = convolution.weights[source]
            }
          }
        }
      }
      let filterShape =
        layer.kind == .depthwise
        ? [1, kernel, kernel, outputChannels]
        : [outputChannels, kernel, kernel, layer.kernelChannels]
      let filterTensor = weights(name + "/weights", filter, filterShape)
      let biasTensor = weights(name + "/bias", convolution.bias, [outputChannels])
      side = layer.outputSize(inputSize: side)
      let output = activation(name + "/relu6", [1, side, side, outputChannels])
      operators.append(
        Operator(
          operation: layer.kind == .depthwise ? .depthwiseConv2D : .conv2D,
          inputs: [blob, filterTensor, biasTensor], outputs: [output],
          options: layer.kind == .depthwise
            ? .depthwiseConv2D(stride: layer.stride, relu6: true)
            : .conv2D(stride: layer.stride, relu6: true)))
      blob = output
    }
    let features = network.convolutions.last!.layer.outputChannels
    let pooled = activation("AvgPool_1a", [1, 1, 1, features])
    operators.append(
      Operator(
        operation: .averagePool2D, inputs: [blob], outputs: [pooled],
        options: .averagePool2D(size: side)))
    buffers.append(WeightBytes.int32([1, Int32(features)]))
    tensors.append(
      Tensor(name: "features_shape", shape: [2], type: .int32, buffer: UInt32(buffers.count - 1)))
    let shapeTensor = Int32(tensors.count - 1)
    blob = activation("features", [1, features])
    operators.append(
      Operator(
        operation: .reshape, inputs: [pooled, shapeTensor], outputs: [blob],
        options: .reshape(shape: [1, Int32(features)])))

    let head = network.classifier
    var index = 0
    while index < head.count {
      let name = "Logits_\(index)"
      guard case .innerProduct(let product) = head[index] else {
        throw ModelError(
          code: .invalidHead,
          message: "internal: the folded head has a \(head[index]) layer where an inner "
            + "product belongs")
      }
      // A ReLU right after an inner product is fused into it.
      let fusedReLU: Bool
      if index + 1 < head.count, case .relu = head[index + 1] {
        fusedReLU = true
      } else {
        fusedReLU = false
      }
      let weightTensor = weights(
        name + "/weights", product.weights, [product.outputCount, product.inputCount])
      let biasTensor = weights(name + "/bias", product.bias, [product.outputCount])
      let output = activation(name, [1, product.outputCount])
      operators.append(
        Operator(
          operation: .fullyConnected, inputs: [blob, weightTensor, biasTensor], outputs: [output],
          options: .fullyConnected(relu: fusedReLU)))
      blob = output
      index += fusedReLU ? 2 : 1
    }
    let probabilities = activation(TFLiteModelWriter.probabilitiesName, [1, network.labels.count])
    operators.append(
      Operator(operation: .softmax, inputs: [blob], outputs: [probabilities], options: .softmax))
    outputs = [probabilities]
  }

  /// The model FlatBuffer of this graph, with `metadata` (name, bytes) as extra buffers named
  /// in `Model.metadata`.
  func flatBuffer(description: String, metadata: [(String, Data)]) -> Data {
    var builder = FlatBufferBuilder(capacity: buffers.reduce(0) { $0 + $1.count } + 1 << 20)
    let allBuffers = buffers + metadata.map(\.1)
    // Buffers first: they end up last in the file, constant data after the structure.
    var bufferTables: [FlatBufferBuilder.Offset] = []
    for data in allBuffers {
      if data.isEmpty {
        builder.startTable()
        bufferTables.append(builder.endTable())
        continue
      }
      // 16-byte alignment lets a runtime use weights in place.
      let vector = builder.bytes(data, alignment: 16)
      builder.startTable()
      builder.add(0, vector)
      bufferTables.append(builder.endTable())
    }

    // Operator codes in order of first use.
    var codes: [Operation] = []
    for item in operators where !codes.contains(item.operation) { codes.append(item.operation) }
    let codeTables = codes.map { code -> FlatBufferBuilder.Offset in
      builder.startTable()
      builder.add(0, Int8(min(code.rawValue, 127)))
      builder.add(2, Int32(version(of: code)), default: 1)
      builder.add(3, code.rawValue)
      return builder.endTable()
    }

    let tensorTables = tensors.map { tensor -> FlatBufferBuilder.Offset in
      let shape = builder.vector(tensor.shape)
      let name = builder.string(tensor.name)
      builder.startTable()
      builder.add(0, shape)
      builder.add(1, tensor.type.rawValue)
      builder.add(2, tensor.buffer)
      builder.add(3, name)
      return builder.endTable()
    }

    let operatorTables = operators.map { item -> FlatBufferBuilder.Offset in
      let inputs = builder.vector(item.inputs)
      let outputs = builder.vector(item.outputs)
      let (optionsType, options) = encode(item.options, into: &builder)
      builder.startTable()
      builder.add(0, UInt32(codes.firstIndex(of: item.operation)!))
      builder.add(1, inputs)
      builder.add(2, outputs)
      builder.add(3, optionsType)
      builder.add(4, options)
      return builder.endTable()
    }

    let tensorVector = builder.vector(tensorTables)
    let inputVector = builder.vector(inputs)
    let outputVector = builder.vector(outputs)
    let operatorVector = builder.vector(operatorTables)
    let subgraphName = builder.string("main")
    builder.startTable()
    builder.add(0, tensorVector)
    builder.add(1, inputVector)
    builder.add(2, outputVector)
    builder.add(3, operatorVector)
    builder.add(4, subgraphName)
    let subgraph = builder.endTable()

    let metadataTables = metadata.enumerated().map { offset, entry -> FlatBufferBuilder.Offset in
      let name = builder.string(entry.0)
      builder.startTable()
      builder.add(0, name)
      builder.add(1, UInt32(buffers.count + offset))
      return builder.endTable()
    }

    let codeVector = builder.vector(codeTables)
    let subgraphVector = builder.vector([subgraph])
    let descriptionString = builder.string(description)
    let bufferVector = builder.vector(bufferTables)
    let metadataVector = builder.vector(metadataTables)
    builder.startTable()
    builder.add(0, TFLiteModelWriter.schemaVersion)
    builder.add(1, codeVector)
    builder.add(2, subgraphVector)
    builder.add(3, descriptionString)
    builder.add(4, bufferVector)
    builder.add(6, metadataVector)
    let model = builder.endTable()
    return builder.finish(root: model, identifier: TFLiteModelWriter.identifier)
  }

  /// The operator version the use needs: DEQUANTIZE of float16 is version 3, the rest 1.
  private func version(of operation: Operation) -> Int {
    operation == .dequantize ? 3 : 1
  }

  /// The BuiltinOptions union type and table of `options`.
  private func encode(_ options: Options, into builder: inout FlatBufferBuilder) -> (
    UInt8, FlatBufferBuilder.Offset
  ) {
    // Schema values: Padding SAME 0, VALID 1; ActivationFunctionType NONE 0, RELU 1, RELU6 3.
    let valid: UInt8 = 1
    let reluCode: UInt8 = 1
    let relu6Code: UInt8 = 3
    switch options {
    case .conv2D(let stride, let relu6):
      // Conv2DOptions: padding 0, stride_w 1, stride_h 2, fused_activation_function 3,
      // dilation_w_factor 4, dilation_h_factor 5 (default 1).
      builder.startTable()
      builder.add(1, Int32(stride))
      builder.add(2, Int32(stride))
      builder.add(3, relu6 ? relu6Code : 0)
      return (1, builder.endTable())
    case .depthwiseConv2D(let stride, let relu6):
      // DepthwiseConv2DOptions: padding 0, stride_w 1, stride_h 2, depth_multiplier 3,
      // fused_activation_function 4, dilation factors 5 and 6 (default 1).
      builder.startTable()
      builder.add(1, Int32(stride))
      builder.add(2, Int32(stride))
      builder.add(3, Int32(1))
      builder.add(4, relu6 ? relu6Code : 0)
      return (2, builder.endTable())
    case .averagePool2D(let size):
      // Pool2DOptions: padding 0, stride_w 1, stride_h 2, filter_width 3, filter_height 4,
      // fused_activation_function 5.
      builder.startTable()
      builder.add(0, valid)
      builder.add(1, Int32(1))
      builder.add(2, Int32(1))
      builder.add(3, Int32(size))
      builder.add(4, Int32(size))
      return (5, builder.endTable())
    case .fullyConnected(let relu):
      // FullyConnectedOptions: fused_activation_function 0, weights_format 1 (DEFAULT 0),
      // keep_num_dims 2 (false).
      builder.startTable()
      builder.add(0, relu ? reluCode : 0)
      return (8, builder.endTable())
    case .reshape(let shape):
      // ReshapeOptions: new_shape 0.
      let vector = builder.vector(shape)
      builder.startTable()
      builder.add(0, vector)
      return (17, builder.endTable())
    case .softmax:
      // SoftmaxOptions: beta 0.
      builder.startTable()
      builder.add(0, Float(1))
      return (9, builder.endTable())
    case .dequantize:
      builder.startTable()
      return (38, builder.endTable())
    }
  }
}
