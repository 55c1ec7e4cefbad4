import CDNNL
import DropnetArchitecture

/// MobileNet v1 (`MobileNetV1Architecture`) inference on oneDNN: batch normalization folded
/// into the convolutions (`FoldedConvolution`), ReLU6 fused as a post-op, then global average
/// pooling and the logits layer with softmax.
///
/// Not thread-safe: one forward pass at a time (the activation buffers are shared).
public final class MobileNetV1 {
  /// Checks that `weights` holds exactly the model's tensors with the table's shapes (gammas
  /// optional), throwing an error that names the first bad tensor and lists all of them.
  public static func validate(weights: [String: HostTensor], classCount: Int) throws {
    let problems = MobileNetV1Architecture.problems(in: weights, classCount: classCount)
    guard let first = problems.first else { return }
    let code: EngineError.Code =
      switch first.kind {
      case .missing: .missingTensor
      case .wrongShape: .wrongShape
      case .unexpected: .unexpectedTensor
      }
    throw EngineError(
      code: code, layer: first.tensor,
      message: problems.map(\.description).joined(separator: "; ")
        + ". Pass the TF-slim MobileNet v1 1.0 tensors of MobileNetV1Architecture with "
        + "\(classCount) classes")
  }

  /// Images per full batch; smaller batches run on their own lazily created primitives.
  public let batchSize: Int
  /// OpenMP threads oneDNN uses.
  public let threads: Int
  /// Input width and height.
  public let imageSize: Int
  /// Output classes.
  public let classCount: Int
  /// What the convolutions and activations compute in.
  public let precision: Precision

  private let engine: CPUEngine
  /// Parameters by layer name, oneDNN's plain layout; kept to build plans for new batch sizes.
  private let folded: [String: PlainParameters]
  /// Parameters already reordered into a primitive's layout, by layer name and part.
  private var prepared: [String: Memory] = [:]
  private var plans: [Int: MobileNetV1Plan] = [:]
  private let arena = ActivationArena()

  /// Builds the network and the primitives for a full batch.
  /// - Parameters:
  ///   - weights: TF-slim names to TF-layout tensors (see `tensorNames`, `expectedShapes`).
  ///   - batchSize: the largest batch `forward` will get.
  ///   - threads: OpenMP threads for oneDNN (the machine's core count is a good choice).
  ///   - imageSize: input width and height (224 for the published weights; tests use less).
  ///   - classCount: classes of the logits layer (1001 for ImageNet).
  ///   - precision: the convolutions' and activations' number format (`Precision`).
  public init(
    weights: [String: HostTensor], batchSize: Int, threads: Int,
    imageSize: Int = MobileNetV1Architecture.inputSize,
    classCount: Int = MobileNetV1Architecture.imageNetClassCount,
    precision: Precision = .float32
  ) throws {
    guard batchSize >= 1, threads >= 1, imageSize >= 1, classCount >= 1 else {
      throw EngineError(
        code: .invalidConfiguration,
        message: "batchSize \(batchSize), threads \(threads), imageSize \(imageSize), "
          + "classCount \(classCount): each must be at least 1")
    }
    try MobileNetV1.validate(weights: weights, classCount: classCount)
    self.batchSize = batchSize
    self.threads = threads
    self.imageSize = imageSize
    self.classCount = classCount
    self.precision = precision
    var folded: [String: PlainParameters] = [:]
    for layer in MobileNetV1Architecture.layers {
      let convolution = FoldedConvolution(layer: layer, tensors: weights)
      folded[layer.name] = PlainParameters(
        weights: convolution.weights, weightsDimensions: layer.engineWeightsDimensions,
        bias: convolution.bias)
    }
    // The logits 1x1 convolution (no batch norm): TF [1, 1, F, K] -> oneDNN [K, F, 1, 1].
    let logits = weights[MobileNetV1Architecture.logitsWeightsName]!
    let featureCount = logits.shape[2]
    var transposed = [Float](repeating: 0, count: logits.values.count)
    for feature in 0..<featureCount {
      for classIndex in 0..<classCount {
        transposed[classIndex * featureCount + feature] =
          logits.values[feature * classCount + classIndex]
      }
    }
    folded[MobileNetV1Architecture.logitsScope] = PlainParameters(
      weights: transposed, weightsDimensions: [classCount, featureCount, 1, 1],
      bias: weights[MobileNetV1Architecture.logitsBiasesName]!.values)
    self.folded = folded
    engine = try CPUEngine()
    // Some oneDNN kernels size their work split by the thread count at creation time.
    try OpenMPThreads.set(threads)
    _ = try plan(for: batchSize)
  }

  /// Multiply-adds of one image through the convolutions and the logits (~569 M at 224).
  public var multiplyAddsPerImage: Int {
    plans[batchSize]!.multiplyAddsPerImage
  }

  /// The oneDNN kernel each primitive of the full-batch pass uses, by layer name (e.g.
  /// "jit_1x1:avx2"); a "ref" kernel means oneDNN found no optimized code for this CPU.
  public var implementationNames: [String: String] {
    plans[batchSize]!.implementationNames
  }

  /// Runs the network.
  /// - Parameters:
  ///   - input: [N, imageSize, imageSize, 3] NHWC RGB in [-1, 1], 1 <= N <= batchSize.
  ///   - capture: layer names (`layerNames`) whose post-ReLU6 outputs to return, NHWC.
  public func forward(_ input: HostTensor, capture: Set<String> = []) throws -> MobileNetOutput {
    let expected = [imageSize, imageSize, 3]
    guard input.shape.count == 4, Array(input.shape.dropFirst()) == expected,
      (1...batchSize).contains(input.shape[0]),
      input.values.count == input.shape.reduce(1, *)
    else {
      throw EngineError(
        code: .invalidInput, layer: "input",
        message: "input shape \(input.shape) (\(input.values.count) values): expected "
          + "[N, \(imageSize), \(imageSize), 3] NHWC with 1 <= N <= \(batchSize)")
    }
    try OpenMPThreads.set(threads)
    let plan = try plan(for: input.shape[0])
    return try input.values.withUnsafeBytes { bytes in
      try plan.forward(inputPointer: bytes.baseAddress!, capture: capture, arena: arena)
    }
  }

  private func plan(for batchSize: Int) throws -> MobileNetV1Plan {
    if let plan = plans[batchSize] { return plan }
    let plan = try MobileNetV1Plan(
      batchSize: batchSize, imageSize: imageSize, classCount: classCount, precision: precision,
      engine: engine,
      parameters: { [unowned self] layer, part, layout in
        try self.parameter(layer: layer, part: part, layout: layout)
      })
    plans[batchSize] = plan
    return plan
  }

  /// A layer's folded weights or bias in `layout`, reordered once and shared between plans.
  private func parameter(layer: String, part: MobileNetV1Plan.Parameter, layout: MemoryDescriptor)
    throws -> Memory
  {
    let key = layer + (part == .weights ? "/weights" : "/bias")
    if let memory = prepared[key], memory.descriptor.isSameLayout(as: layout) { return memory }
    let parameters = folded[layer]!
    let values = part == .weights ? parameters.weights : parameters.bias
    let dimensions = part == .weights ? parameters.weightsDimensions : [parameters.bias.count]
    let plain = try Memory(descriptor: .plain(dimensions, layer: layer), engine: engine)
    try plain.write(values)
    var memory = plain
    if !layout.isSameLayout(as: plain.descriptor) {
      memory = try Memory(descriptor: layout, engine: engine, layer: layer)
      let reorder = try Reorder(
        from: plain.descriptor, to: layout, engine: engine, name: key + "/reorder")
      let scratchpadBytes = max(reorder.primitives[0].scratchpadByteCount, 64)
      let scratchpad = UnsafeMutableRawPointer.allocate(byteCount: scratchpadBytes, alignment: 64)
      defer { scratchpad.deallocate() }
      try reorder.primitives[0].bindScratchpad(scratchpad)
      try reorder.forward(source: plain, destination: memory, engine: engine)
      try engine.wait()
    }
    if prepared[key] == nil { prepared[key] = memory }
    return memory
  }
}

/// A layer's weights ([O, I, K, K] or grouped) and bias in oneDNN's plain layout.
private struct PlainParameters {
  var weights: [Float]
  var weightsDimensions: [Int]
  var bias: [Float]
}
