import CDNNL
import DropnetArchitecture

/// The primitives and memories of MobileNetV1's forward pass at one batch size.
///
/// oneDNN fixes the batch size when a primitive is created, so the network keeps one plan per
/// batch size it has seen (the full batch, and the last partial batch of a data set).
/// Activations live in the shared `ActivationArena`, bound again before every pass.
final class MobileNetV1Plan {
  /// Which folded tensor of a layer a memory holds.
  enum Parameter {
    case weights
    case bias
  }
  /// Returns a memory in `layout` holding a layer's folded weights or bias.
  typealias ParameterProvider = (_ layer: String, Parameter, MemoryDescriptor) throws -> Memory

  /// One convolution (+ folded BN + ReLU6), with the layout change its input may need.
  struct Step {
    let name: String
    /// Converts the previous output into the layout this convolution chose, when they differ.
    let inputReorder: Reorder?
    let previousOutput: Memory
    let source: Memory
    let convolution: Convolution
    let weights: Memory
    let bias: Memory
    let destination: Memory
  }

  let batchSize: Int
  let imageSize: Int
  let classCount: Int
  private let engine: CPUEngine
  /// The caller's NHWC input, read in place: logical [N, 3, H, W] with the nhwc tag.
  private let input: Memory
  private let steps: [Step]
  private let pooling: Pooling
  private let pooled: Memory
  private let featuresReorder: Reorder?
  /// Plain [N, 1024, 1, 1], which is row-major [N, 1024].
  private let features: Memory
  private let logitsLayer: InnerProduct
  private let logitsWeights: Memory
  private let logitsBias: Memory
  private let logits: Memory
  private let softmax: Softmax
  private let probabilities: Memory
  /// Activation memories and the arena slot (0 or 1) each one lives in.
  private var slottedMemories: [(memory: Memory, slot: Int)] = []
  private var primitives: [Primitive] = []
  /// Per captured layer: a reorder to plain NHWC and the memory it writes.
  private var captureReorders: [String: (reorder: Reorder, destination: Memory)] = [:]

  init(
    batchSize: Int, imageSize: Int, classCount: Int, precision: Precision, engine: CPUEngine,
    parameters: ParameterProvider
  ) throws {
    self.batchSize = batchSize
    self.imageSize = imageSize
    self.classCount = classCount
    self.engine = engine
    input = try Memory(
      descriptor: MemoryDescriptor(
        dimensions: [batchSize, 3, imageSize, imageSize], format: dnnl_nhwc, layer: "input"),
      engine: engine, borrowing: nil, layer: "input")

    var steps: [Step] = []
    var slotted: [(memory: Memory, slot: Int)] = []
    var primitives: [Primitive] = []
    var previous = input
    var previousSlot: Int? = nil  // nil: the caller's buffer, not the arena
    var height = imageSize
    var width = imageSize
    for layer in MobileNetV1Architecture.layers {
      let geometry = ConvolutionGeometry(
        batchSize: batchSize, inputChannels: layer.inputChannels,
        outputChannels: layer.outputChannels, inputHeight: height, inputWidth: width,
        kernelSize: layer.kernelSize, stride: layer.stride, groups: layer.groups)
      let convolution = try Convolution(
        geometry: geometry, fuseReLU6: true, precision: precision, engine: engine,
        name: layer.name)
      primitives += convolution.primitives
      var source = previous
      var inputReorder: Reorder? = nil
      var sourceSlot = previousSlot
      if !convolution.sourceDescriptor.isSameLayout(as: previous.descriptor) {
        let reorder = try Reorder(
          from: previous.descriptor, to: convolution.sourceDescriptor, engine: engine,
          name: layer.name + "/input_reorder")
        primitives += reorder.primitives
        sourceSlot = MobileNetV1Plan.slot(after: previousSlot)
        source = try Memory(
          descriptor: convolution.sourceDescriptor, engine: engine, borrowing: nil,
          layer: layer.name)
        slotted.append((source, sourceSlot!))
        inputReorder = reorder
      }
      let destinationSlot = MobileNetV1Plan.slot(after: sourceSlot)
      let destination = try Memory(
        descriptor: convolution.destinationDescriptor, engine: engine, borrowing: nil,
        layer: layer.name)
      slotted.append((destination, destinationSlot))
      steps.append(
        Step(
          name: layer.name, inputReorder: inputReorder, previousOutput: previous, source: source,
          convolution: convolution,
          weights: try parameters(layer.name, .weights, convolution.weightsDescriptor),
          bias: try parameters(layer.name, .bias, convolution.biasDescriptor),
          destination: destination))
      previous = destination
      previousSlot = destinationSlot
      height = geometry.outputHeight
      width = geometry.outputWidth
    }
    self.steps = steps

    // Head: global average pool over the last feature map, 1x1 logits, softmax.
    guard height == width else {
      throw EngineError(
        code: .invalidConfiguration, layer: "MobilenetV1/Logits/AvgPool_1a",
        message: "the last feature map is \(height)x\(width); use a square input")
    }
    pooling = try Pooling(
      sourceLayout: previous.descriptor, kernelSize: height, stride: 1, engine: engine,
      name: "MobilenetV1/Logits/AvgPool_1a")
    primitives += pooling.primitives
    pooled = try Memory(descriptor: pooling.destinationDescriptor, engine: engine)
    let featureCount = MobileNetV1Architecture.layers.last!.outputChannels
    let plainFeatures = try MemoryDescriptor.plain([batchSize, featureCount, 1, 1])
    if pooled.descriptor.isSameLayout(as: plainFeatures) {
      featuresReorder = nil
      features = pooled
    } else {
      let reorder = try Reorder(
        from: pooled.descriptor, to: plainFeatures, engine: engine,
        name: "MobilenetV1/Logits/AvgPool_1a/reorder")
      primitives += reorder.primitives
      featuresReorder = reorder
      features = try Memory(descriptor: plainFeatures, engine: engine)
    }
    let logitsName = MobileNetV1Architecture.logitsScope
    logitsLayer = try InnerProduct(
      sourceLayout: plainFeatures, outputCount: classCount, engine: engine, name: logitsName)
    primitives += logitsLayer.primitives
    logitsWeights = try parameters(logitsName, .weights, logitsLayer.weightsDescriptor)
    logitsBias = try parameters(logitsName, .bias, logitsLayer.biasDescriptor)
    logits = try Memory(descriptor: logitsLayer.destinationDescriptor, engine: engine)
    softmax = try Softmax(
      batchSize: batchSize, classCount: classCount, engine: engine,
      name: "MobilenetV1/Predictions")
    primitives += softmax.primitives
    probabilities = try Memory(descriptor: logits.descriptor, engine: engine)
    self.slottedMemories = slotted
    self.primitives = primitives
  }

  /// Ping-pong: the caller's buffer (nil) is followed by slot 0, slot 0 by 1, 1 by 0.
  private static func slot(after slot: Int?) -> Int {
    slot == 0 ? 1 : 0
  }

  /// Bytes each arena slot must hold for this plan.
  var slotByteCount: Int { slottedMemories.map { $0.memory.descriptor.byteCount }.max() ?? 0 }
  /// Bytes of the largest scratchpad among this plan's primitives.
  var scratchpadByteCount: Int { primitives.map(\.scratchpadByteCount).max() ?? 0 }

  /// oneDNN's kernel per primitive, by layer name, e.g. "jit_1x1:avx2"; "ref:any" means slow.
  var implementationNames: [String: String] {
    var names: [String: String] = [:]
    for primitive in primitives { names[primitive.name] = primitive.implementationName }
    return names
  }

  /// Multiply-adds per image of the convolutions and the logits layer.
  var multiplyAddsPerImage: Int {
    steps.map { $0.convolution.geometry.multiplyAddCount }.reduce(0, +) / batchSize
      + MobileNetV1Architecture.layers.last!.outputChannels * classCount
  }

  /// Runs the network on `batchSize` NHWC images at `inputPointer` (read only).
  func forward(
    inputPointer: UnsafeRawPointer, capture: Set<String>, arena: ActivationArena
  ) throws -> MobileNetOutput {
    try prepareCaptures(capture)
    try bind(arena)
    try input.setDataHandle(UnsafeMutableRawPointer(mutating: inputPointer))
    defer { try? input.setDataHandle(nil) }

    for step in steps {
      if let reorder = step.inputReorder {
        try reorder.forward(source: step.previousOutput, destination: step.source, engine: engine)
      }
      try step.convolution.forward(
        source: step.source, weights: step.weights, bias: step.bias,
        destination: step.destination, engine: engine)
      // The next layers overwrite this buffer, so a capture copies it out right away.
      if capture.contains(step.name), let target = captureReorders[step.name] {
        try target.reorder.forward(
          source: step.destination, destination: target.destination, engine: engine)
      }
    }
    try pooling.forward(source: steps.last!.destination, destination: pooled, engine: engine)
    try featuresReorder?.forward(source: pooled, destination: features, engine: engine)
    try logitsLayer.forward(
      source: features, weights: logitsWeights, bias: logitsBias, destination: logits,
      engine: engine)
    try softmax.forward(source: logits, destination: probabilities, engine: engine)
    try engine.wait()

    var captured: [String: HostTensor] = [:]
    for name in capture {
      let memory = captureReorders[name]!.destination
      let dims = memory.descriptor.dimensions  // [N, C, H, W] logical, stored NHWC
      captured[name] = HostTensor(
        shape: [dims[0], dims[2], dims[3], dims[1]], values: MobileNetV1Plan.values(of: memory))
    }
    let featureCount = features.descriptor.dimensions[1]
    return MobileNetOutput(
      features: HostTensor(shape: [batchSize, featureCount], values: try features.read()),
      logits: HostTensor(shape: [batchSize, classCount], values: try logits.read()),
      probabilities: HostTensor(
        shape: [batchSize, classCount], values: try probabilities.read()),
      captured: captured)
  }

  /// Creates the NHWC reorders for captured layers not captured before.
  private func prepareCaptures(_ names: Set<String>) throws {
    for name in names where captureReorders[name] == nil {
      guard let step = steps.first(where: { $0.name == name }) else {
        throw EngineError(
          code: .unknownLayer, layer: name,
          message:
            "no layer named \(name) to capture; use a layer name of MobileNetV1Architecture.layers")
      }
      let layout = try MemoryDescriptor(
        dimensions: step.destination.descriptor.dimensions, format: dnnl_nhwc, layer: name)
      let reorder = try Reorder(
        from: step.destination.descriptor, to: layout, engine: engine, name: name + "/capture")
      primitives += reorder.primitives
      captureReorders[name] = (reorder, try Memory(descriptor: layout, engine: engine))
    }
  }

  /// Points every activation memory and scratchpad at the arena (growing it if needed).
  private func bind(_ arena: ActivationArena) throws {
    arena.reserve(slotByteCount: slotByteCount, scratchpadByteCount: scratchpadByteCount)
    for (memory, slot) in slottedMemories { try memory.setDataHandle(arena.slots[slot]) }
    for primitive in primitives { try primitive.bindScratchpad(arena.scratchpad) }
  }

  /// The raw float values of a memory, in its physical order.
  private static func values(of memory: Memory) -> [Float] {
    let count = memory.descriptor.byteCount / MemoryLayout<Float>.size
    let start = memory.dataHandle!.assumingMemoryBound(to: Float.self)
    return Array(UnsafeBufferPointer(start: start, count: count))
  }
}
