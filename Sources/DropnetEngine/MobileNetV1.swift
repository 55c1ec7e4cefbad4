/// MobileNet v1 (alpha 1.0, TF-slim layout) inference on oneDNN, batch normalization folded into
/// the convolutions and ReLU6 fused as a post-op.
///
/// Network (input NHWC RGB in [-1, 1], 224x224 by default):
///   Conv2d_0            3x3 stride 2, 3 -> 32, BN, ReLU6
///   Conv2d_1...13       3x3 depthwise (stride 2 in blocks 2, 4, 6, 12), BN, ReLU6,
///                       then 1x1 pointwise, BN, ReLU6 (64, 128, 128, ..., 1024 channels)
///   AvgPool_1a          global average over the last 7x7 map -> 1024 features
///   Conv2d_1c_1x1       1x1, 1024 -> classes, with bias (logits); softmax
/// Padding is TF 'SAME' (asymmetric for stride 2 over even sizes).
///
/// Not thread-safe: one forward pass at a time (the activation buffers are shared).
public final class MobileNetV1 {
  /// Classes of the ImageNet model (class 0 is "background").
  public static let imageNetClassCount = 1001
  /// Width of the pooled feature vector.
  public static let featureCount = 1024
  /// Input width and height the published weights were trained at.
  public static let defaultImageSize = 224
  /// TF-slim MobileNet's batch normalization epsilon.
  public static let batchNormEpsilon = 0.001
  /// Scope of the logits convolution.
  public static let logitsLayerName = "MobilenetV1/Logits/Conv2d_1c_1x1"
  static let logitsWeightsName = logitsLayerName + "/weights"
  static let logitsBiasesName = logitsLayerName + "/biases"

  /// The 27 capturable layers in order: "MobilenetV1/Conv2d_0", "MobilenetV1/Conv2d_1_depthwise",
  /// "MobilenetV1/Conv2d_1_pointwise", ..., "MobilenetV1/Conv2d_13_pointwise".
  public static let layerNames: [String] = MobileNetV1Layer.all.map(\.name)

  /// Every weight tensor of the ImageNet model, in network order (gammas included).
  public static let tensorNames: [String] = tensorNames(includingGammas: true)

  /// TF-layout shape of every weight tensor of the ImageNet model (1001 classes).
  public static let expectedShapes: [String: [Int]] = expectedShapes(
    classCount: imageNetClassCount)

  /// Tensors that may be absent: frozen graphs sometimes drop BatchNorm/gamma (scale 1).
  public static let optionalTensorNames: Set<String> = Set(MobileNetV1Layer.all.map(\.gammaName))

  /// TF-layout shapes for a model with `classCount` output classes.
  public static func expectedShapes(classCount: Int) -> [String: [Int]] {
    var shapes: [String: [Int]] = [:]
    for layer in MobileNetV1Layer.all {
      shapes[layer.weightsName] = layer.weightsShape
      for name in layer.batchNormNames { shapes[name] = [layer.outputChannels] }
    }
    shapes[logitsWeightsName] = [1, 1, featureCount, classCount]
    shapes[logitsBiasesName] = [classCount]
    return shapes
  }

  private static func tensorNames(includingGammas: Bool) -> [String] {
    var names: [String] = []
    for layer in MobileNetV1Layer.all {
      names.append(layer.weightsName)
      names += includingGammas ? layer.batchNormNames : Array(layer.batchNormNames.dropFirst())
    }
    return names + [logitsWeightsName, logitsBiasesName]
  }

  /// Checks that `weights` holds exactly the model's tensors with the expected shapes (gammas
  /// optional), throwing an error that names the first bad tensor and lists all of them.
  public static func validate(weights: [String: HostTensor], classCount: Int) throws {
    let shapes = expectedShapes(classCount: classCount)
    var problems: [(code: EngineError.Code, tensor: String, text: String)] = []
    for name in tensorNames(includingGammas: true) {
      guard let tensor = weights[name] else {
        if !optionalTensorNames.contains(name) {
          problems.append((.missingTensor, name, "\(name) is missing"))
        }
        continue
      }
      let expected = shapes[name]!
      if tensor.shape != expected || tensor.values.count != expected.reduce(1, *) {
        problems.append(
          (
            .wrongShape, name,
            "\(name) has shape \(tensor.shape) (\(tensor.values.count) values), "
              + "expected \(expected)"
          ))
      }
    }
    for name in weights.keys.sorted() where shapes[name] == nil {
      problems.append((.unexpectedTensor, name, "\(name) is not a MobileNetV1 tensor"))
    }
    guard let first = problems.first else { return }
    throw EngineError(
      code: first.code, layer: first.tensor,
      message: problems.map(\.text).joined(separator: "; ")
        + ". Pass the TF-slim MobileNet v1 1.0 tensors named in MobileNetV1.tensorNames with "
        + "the shapes in MobileNetV1.expectedShapes(classCount: \(classCount))")
  }

  /// Images per full batch; smaller batches run on their own lazily created primitives.
  public let batchSize: Int
  /// OpenMP threads oneDNN uses.
  public let threads: Int
  /// Input width and height.
  public let imageSize: Int
  /// Output classes.
  public let classCount: Int

  private let engine: CPUEngine
  /// BN-folded parameters by layer name, plain layout; kept to build plans for new batch sizes.
  private let folded: [String: FoldedConvolution]
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
  public init(
    weights: [String: HostTensor], batchSize: Int, threads: Int,
    imageSize: Int = MobileNetV1.defaultImageSize,
    classCount: Int = MobileNetV1.imageNetClassCount
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
    var folded: [String: FoldedConvolution] = [:]
    for layer in MobileNetV1Layer.all {
      folded[layer.name] = FoldedConvolution(
        layer: layer, weights: weights, epsilon: MobileNetV1.batchNormEpsilon)
    }
    folded[MobileNetV1.logitsLayerName] = FoldedConvolution(
      logitsWeights: weights[MobileNetV1.logitsWeightsName]!,
      biases: weights[MobileNetV1.logitsBiasesName]!)
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
      batchSize: batchSize, imageSize: imageSize, classCount: classCount, engine: engine,
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
