import CDNNL
import DropnetArchitecture

/// MobileNet v1 (alpha 1.0, TF-slim tensors) for fine-tuning: batch normalization unfolded in
/// batch-statistics mode and fused with ReLU6 in one kernel of our own
/// (`BatchNormalizationReLU6`), every activation the backward pass needs kept, and global
/// average pooling to the 1024 features a classifier head reads.
///
/// Per convolution layer (27 of them, `MobileNetV1Architecture.layers`):
///   x = conv(source, W)            [N, O, OH, OW]  kept for the batch norm backward
///   y = gamma * (x - mean_B) / sqrt(var_B + 0.001) + beta   (batch mean and biased variance)
///   z = min(max(y, 0), 6)          kept: the next convolution's source (y is never stored;
///                                  the backward pass recomputes it, and ReLU6's mask, from x)
/// then features = mean over H, W of the last z: [N, 1024].
///
/// What trains: every gamma and beta, plus the convolution weights of the last
/// `trainedConvolutionCount` layers (0: batch norm only; 2K: the last K depthwise/pointwise
/// blocks; 27: all). The backward pass goes down to the first batch norm (its gamma needs the
/// diff of everything above) but computes weight gradients only where weights train, and the
/// input's diff only when asked for at creation.
///
/// Moving statistics follow Keras' BatchNormalization: momentum 0.99 with the batch's biased
/// variance, updated by each training forward. Optimiser: SGD with momentum as Keras
/// (`v = momentum * v - lr * g; p += v`), weight decay optional on convolution weights.
///
/// Memory per 224x224 image: each layer's convolution output (~20 MB in all), the activations
/// of layers whose next convolution trains (up to as much again in `all` mode), one shared
/// activation and three shared diff buffers of the largest activation. Not thread-safe: one
/// step at a time.
public final class MobileNetV1Trainable {
  /// Keras' BatchNormalization momentum: moving = 0.99 * moving + 0.01 * batch.
  public static let batchNormMomentum: Float = 0.99
  /// Convolution layers of the network (Conv2d_0 and 13 depthwise/pointwise pairs).
  public static let convolutionCount = MobileNetV1Architecture.layers.count

  /// Images per step (oneDNN fixes it when the primitives are made).
  public let batchSize: Int
  /// Input width and height.
  public let imageSize: Int
  /// OpenMP threads oneDNN uses.
  public let threads: Int
  /// How many of the last convolution layers train their weights.
  public let trainedConvolutionCount: Int
  /// Whether `backward` also produces the input's diff (`inputGradient`).
  public let computesInputGradient: Bool
  /// What convolutions and activations compute in (`Precision`); master weights, batch-norm
  /// statistics and gradients of trained tensors are float32 either way.
  public let precision: Precision

  private let engine: CPUEngine
  private let stages: [MobileNetV1TrainingStage]
  /// The input batch, copied in: logical [N, 3, H, W] stored NHWC.
  private let input: Memory
  private let inputDiff: Memory?
  private let pooling: Pooling
  private let pooled: Memory
  /// Plain [N, 1024, 1, 1] = row-major [N, 1024], and the reorders to and from `pooled`.
  private let features: Memory
  private let featuresReorder: Reorder?
  private let diffFeaturesReorder: Reorder?
  private let diffPooled: Memory
  private let diffFeatures: Memory
  /// Diff buffers: A holds activation diffs, B convolution-output diffs, C reordered sources.
  private let diffBuffers: [UnsafeMutableRawPointer]
  /// The activations no backward pass reads (see `MobileNetV1TrainingStage.keepsActivation`).
  private let sharedActivation: UnsafeMutableRawPointer
  private let scratchpad: UnsafeMutableRawPointer
  private var hasForwardPass = false

  /// Builds the network from TF-slim tensors (`MobileNetV1Architecture`; the logits are not
  /// used, and a missing gamma counts as 1).
  /// - Parameters:
  ///   - weights: TF-slim names to TF-layout tensors, as `MobileNetV1` takes them.
  ///   - batchSize: images per step (at least 2: batch statistics need a spread).
  ///   - threads: OpenMP threads for oneDNN.
  ///   - imageSize: input width and height (224 for the published weights; tests use less).
  ///   - trainedConvolutionCount: the last this many convolution layers train their weights.
  ///   - computesInputGradient: also compute the input's diff (gradient checks).
  ///   - precision: the convolutions' and activations' number format.
  public init(
    weights: [String: HostTensor], batchSize: Int, threads: Int,
    imageSize: Int = MobileNetV1Architecture.inputSize, trainedConvolutionCount: Int = 0,
    computesInputGradient: Bool = false, precision: Precision = .float32
  ) throws {
    let layerCount = MobileNetV1Trainable.convolutionCount
    guard batchSize >= 2, threads >= 1, imageSize >= 32,
      (0...layerCount).contains(trainedConvolutionCount)
    else {
      throw EngineError(
        code: .invalidConfiguration,
        message: "batchSize \(batchSize), threads \(threads), imageSize \(imageSize), "
          + "trainedConvolutionCount \(trainedConvolutionCount): need a batch of at least 2, "
          + "a thread, images of at least 32 pixels and 0...\(layerCount) trained layers")
    }
    try MobileNetV1Trainable.validate(weights)
    self.batchSize = batchSize
    self.imageSize = imageSize
    self.threads = threads
    self.trainedConvolutionCount = trainedConvolutionCount
    self.computesInputGradient = computesInputGradient
    self.precision = precision
    let engine = try CPUEngine()
    self.engine = engine
    try OpenMPThreads.set(threads)

    let inputLayout = try MemoryDescriptor(
      dimensions: [batchSize, 3, imageSize, imageSize], format: dnnl_nhwc, layer: "input")
    input = try Memory(descriptor: inputLayout, engine: engine, layer: "input")
    inputDiff =
      computesInputGradient ? try Memory(descriptor: inputLayout, engine: engine) : nil
    var stages: [MobileNetV1TrainingStage] = []
    var previous = inputLayout
    var height = imageSize
    var width = imageSize
    let firstTrained = layerCount - trainedConvolutionCount
    for (index, layer) in MobileNetV1Architecture.layers.enumerated() {
      let geometry = ConvolutionGeometry(
        batchSize: batchSize, inputChannels: layer.inputChannels,
        outputChannels: layer.outputChannels, inputHeight: height, inputWidth: width,
        kernelSize: layer.kernelSize, stride: layer.stride, groups: layer.groups)
      // An activation is needed again only by the weight gradient of the next convolution.
      let stage = try MobileNetV1TrainingStage(
        layer: layer, geometry: geometry, previous: previous,
        trainsWeights: index >= firstTrained, keepsActivation: index + 1 >= firstTrained,
        precision: precision, threads: threads, engine: engine)
      stages.append(stage)
      previous = stage.activation.descriptor
      height = geometry.outputHeight
      width = geometry.outputWidth
    }
    self.stages = stages
    guard height == width else {
      throw EngineError(
        code: .invalidConfiguration, layer: "MobilenetV1/Logits/AvgPool_1a",
        message: "the last feature map is \(height)x\(width); use a square input")
    }

    // Global average pooling and its plain [N, 1024] view.
    pooling = try Pooling(
      sourceLayout: previous, kernelSize: height, stride: 1, propagation: .training,
      engine: engine, name: "MobilenetV1/Logits/AvgPool_1a")
    pooled = try Memory(descriptor: pooling.destinationDescriptor, engine: engine)
    diffPooled = try Memory(descriptor: pooling.destinationDescriptor, engine: engine)
    let plainFeatures = try MemoryDescriptor.plain([
      batchSize, MobileNetV1Architecture.featureCount, 1, 1,
    ])
    features = try Memory(descriptor: plainFeatures, engine: engine)
    diffFeatures = try Memory(descriptor: plainFeatures, engine: engine)
    if pooled.descriptor.isSameLayout(as: plainFeatures) {
      featuresReorder = nil
      diffFeaturesReorder = nil
    } else {
      featuresReorder = try Reorder(
        from: pooled.descriptor, to: plainFeatures, engine: engine, name: "features_reorder")
      diffFeaturesReorder = try Reorder(
        from: plainFeatures, to: pooled.descriptor, engine: engine, name: "diff_features_reorder")
    }

    // Shared diff buffers and scratchpad, each as large as its largest user.
    let largestActivation = stages.map { $0.activation.descriptor.byteCount }.max()!
    let largestReordered = stages.map {
      $0.diffSourceReorder == nil ? 0 : $0.source.descriptor.byteCount
    }.max()!
    let alignment = 64
    diffBuffers = [largestActivation, largestActivation, max(largestReordered, alignment)].map {
      UnsafeMutableRawPointer.allocate(byteCount: $0, alignment: alignment)
    }
    // Activations the backward pass does not read share one buffer: each is read by the next
    // convolution (or the pooling) before the next stage's batch norm overwrites it.
    let largestShared =
      stages.filter { !$0.keepsActivation }.map {
        $0.activation.descriptor.byteCount
      }.max() ?? 0
    sharedActivation = UnsafeMutableRawPointer.allocate(
      byteCount: max(largestShared, alignment), alignment: alignment)
    for stage in stages where !stage.keepsActivation {
      try stage.activation.setDataHandle(sharedActivation)
    }
    var primitives = stages.flatMap(\.primitives) + pooling.primitives
    primitives += (featuresReorder?.primitives ?? []) + (diffFeaturesReorder?.primitives ?? [])
    scratchpad = UnsafeMutableRawPointer.allocate(
      byteCount: max(primitives.scratchpadByteCount, alignment), alignment: alignment)
    try primitives.bindScratchpad(scratchpad)
    for (index, stage) in stages.enumerated() {
      try stage.diffActivation.setDataHandle(diffBuffers[0])
      try stage.diffConvolutionOutput.setDataHandle(diffBuffers[1])
      if stage.diffSourceReorder != nil {
        try stage.diffSource.setDataHandle(diffBuffers[2])
      } else if index == 0 {
        try stage.diffSource.setDataHandle(inputDiff?.dataHandle ?? diffBuffers[0])
      } else {
        try stage.diffSource.setDataHandle(diffBuffers[0])
      }
    }
    try load(weights)
  }

  deinit {
    for buffer in diffBuffers { buffer.deallocate() }
    sharedActivation.deallocate()
    scratchpad.deallocate()
  }

  /// Checks that every convolution and batch-norm tensor is there with its TF shape (gammas
  /// optional, logits ignored).
  static func validate(_ weights: [String: HostTensor]) throws {
    let problems = MobileNetV1Architecture.problems(in: weights, includingLogits: false)
      .filter { $0.kind != .unexpected }
    if let first = problems.first {
      throw EngineError(
        code: first.kind == .missing ? .missingTensor : .wrongShape, layer: first.tensor,
        message: "\(first); pass the TF-slim MobileNet v1 tensors")
    }
  }

  // MARK: - Parameters in TF layout

  /// Names of every tensor the network holds (weights and the four batch-norm tensors of each
  /// layer), in network order.
  public static var tensorNames: [String] {
    MobileNetV1Architecture.layers.flatMap { [$0.weightsName] + $0.batchNormNames }
  }

  /// Names of the tensors that train (gammas, betas, and the trained layers' weights).
  public var trainedTensorNames: [String] {
    stages.flatMap { stage in
      (stage.trainsWeights ? [stage.layer.weightsName] : [])
        + [stage.layer.gammaName, stage.layer.betaName]
    }
  }

  /// Every tensor as it is now, TF-slim names and TF layouts (what `MobileNetV1` and a
  /// checkpoint take; gammas always present). `includingFrozen: false` leaves out the
  /// convolution weights that do not train (they are as loaded), which saves converting
  /// millions of values after every epoch.
  public func tensors(includingFrozen: Bool = true) throws -> [String: HostTensor] {
    var result: [String: HostTensor] = [:]
    for stage in stages {
      let layer = stage.layer
      let names =
        includingFrozen || stage.trainsWeights
        ? [layer.weightsName] + layer.batchNormNames : layer.batchNormNames
      for name in names { result[name] = try tensor(named: name) }
    }
    return result
  }

  /// One tensor by TF-slim name, TF layout.
  public func tensor(named name: String) throws -> HostTensor {
    let (stage, part) = try locate(name)
    let layer = stage.layer
    let channels = [layer.outputChannels]
    switch part {
    case .weights:
      return try tensorFlowWeights(stage.weights, of: layer)
    case .gamma: return HostTensor(shape: channels, values: try stage.gamma.read())
    case .beta: return HostTensor(shape: channels, values: try stage.beta.read())
    case .movingMean: return HostTensor(shape: channels, values: stage.movingMean)
    case .movingVariance: return HostTensor(shape: channels, values: stage.movingVariance)
    }
  }

  /// Weights-shaped `memory` (the weights or their gradient) in `layer`'s TF layout.
  private func tensorFlowWeights(_ memory: Memory, of layer: MobileNetV1Architecture.Layer)
    throws -> HostTensor
  {
    let plain = try readPlain(memory, dimensions: layer.engineWeightsDimensions)
    return HostTensor(
      shape: layer.weightsShape, values: layer.tensorFlowWeights(outputMajor: plain))
  }

  /// Replaces one tensor (TF-slim name, TF layout and shape).
  public func setTensor(named name: String, to tensor: HostTensor) throws {
    let (stage, part) = try locate(name)
    let layer = stage.layer
    let expected = part == .weights ? layer.weightsShape : [layer.outputChannels]
    guard tensor.shape == expected else {
      throw EngineError(
        code: .wrongShape, layer: name,
        message: "\(name) has shape \(tensor.shape), expected \(expected)")
    }
    switch part {
    case .weights:
      try writePlain(
        layer.outputMajorWeights(tensor.values), dimensions: layer.engineWeightsDimensions,
        into: stage.weights)
      stage.weightsChanged()
    case .gamma: try stage.gamma.write(tensor.values)
    case .beta: try stage.beta.write(tensor.values)
    case .movingMean: stage.movingMean = tensor.values
    case .movingVariance: stage.movingVariance = tensor.values
    }
  }

  /// The gradient of the last backward pass for a trained tensor, TF layout.
  public func gradient(named name: String) throws -> HostTensor {
    let (stage, part) = try locate(name)
    let layer = stage.layer
    switch part {
    case .gamma:
      return HostTensor(shape: [layer.outputChannels], values: try stage.diffGamma.read())
    case .beta: return HostTensor(shape: [layer.outputChannels], values: try stage.diffBeta.read())
    case .weights where stage.diffWeights != nil:
      return try tensorFlowWeights(stage.diffWeights!, of: layer)
    case .weights, .movingMean, .movingVariance:
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "\(name) does not train here; ask for one of trainedTensorNames")
    }
  }

  private enum Part {
    case weights, gamma, beta, movingMean, movingVariance
  }

  private func locate(_ name: String) throws -> (MobileNetV1TrainingStage, Part) {
    for stage in stages {
      let layer = stage.layer
      switch name {
      case layer.weightsName: return (stage, .weights)
      case layer.gammaName: return (stage, .gamma)
      case layer.betaName: return (stage, .beta)
      case layer.meanName: return (stage, .movingMean)
      case layer.varianceName: return (stage, .movingVariance)
      default: continue
      }
    }
    throw EngineError(
      code: .unexpectedTensor, layer: name,
      message: "\(name) is not a tensor of the network; use MobileNetV1Trainable.tensorNames")
  }

  private func load(_ weights: [String: HostTensor]) throws {
    for stage in stages {
      let layer = stage.layer
      try setTensor(named: layer.weightsName, to: weights[layer.weightsName]!)
      let ones = HostTensor(
        shape: [layer.outputChannels],
        values: [Float](repeating: 1, count: layer.outputChannels))
      try setTensor(named: layer.gammaName, to: weights[layer.gammaName] ?? ones)
      for name in [layer.betaName, layer.meanName, layer.varianceName] {
        try setTensor(named: name, to: weights[name]!)
      }
    }
  }

  /// Plain row-major values of a memory in any layout.
  private func readPlain(_ memory: Memory, dimensions: [Int]) throws -> [Float] {
    let plain = try Memory(descriptor: .plain(dimensions), engine: engine)
    try convert(memory, into: plain)
    return try plain.read()
  }

  private func writePlain(_ values: [Float], dimensions: [Int], into memory: Memory) throws {
    let plain = try Memory(descriptor: .plain(dimensions), engine: engine)
    try plain.write(values)
    try convert(plain, into: memory)
  }

  /// One-off layout conversion (parameters, not the per-step path).
  private func convert(_ source: Memory, into destination: Memory) throws {
    let reorder = try Reorder(
      from: source.descriptor, to: destination.descriptor, engine: engine, name: "parameters")
    let bytes = max(reorder.scratchpadByteCount, 64)
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    defer { buffer.deallocate() }
    try reorder.bindScratchpad(buffer)
    try reorder.forward(source: source, destination: destination, engine: engine)
    try engine.wait()
  }

  // MARK: - Training step

  /// Forward in training mode: batch statistics, moving statistics updated.
  /// - Parameter input: [batchSize, imageSize, imageSize, 3] NHWC RGB in [-1, 1].
  /// - Returns: the pooled features [batchSize, 1024].
  public func forward(_ input: HostTensor) throws -> HostTensor {
    let expected = [batchSize, imageSize, imageSize, 3]
    guard input.shape == expected else {
      throw EngineError(
        code: .invalidInput, layer: "input",
        message: "input shape \(input.shape): expected \(expected) NHWC (a full batch)")
    }
    try OpenMPThreads.set(threads)
    input.values.withUnsafeBytes { bytes in
      self.input.dataHandle!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }
    var previous = self.input
    for stage in stages {
      try stage.forward(previous: previous, engine: engine)
      previous = stage.activation
    }
    try pooling.forward(source: previous, destination: pooled, engine: engine)
    try featuresReorder?.forward(source: pooled, destination: features, engine: engine)
    try engine.wait()
    for stage in stages { stage.updateMovingStatistics(momentum: Self.batchNormMomentum) }
    hasForwardPass = true
    let source = (featuresReorder == nil ? pooled : features).dataHandle!.assumingMemoryBound(
      to: Float.self)
    return HostTensor(
      shape: [batchSize, MobileNetV1Architecture.featureCount],
      values: Array(
        UnsafeBufferPointer(start: source, count: batchSize * MobileNetV1Architecture.featureCount))
    )
  }

  /// Backward from the loss's gradient with respect to the features [batchSize, 1024] of the
  /// last `forward`: fills the gradients of every trained tensor (and the input's, if made to).
  public func backward(featureGradients: HostTensor) throws {
    guard hasForwardPass else {
      throw EngineError(
        code: .invalidConfiguration, message: "backward needs a forward pass first")
    }
    guard featureGradients.shape == [batchSize, MobileNetV1Architecture.featureCount] else {
      throw EngineError(
        code: .invalidInput, layer: "features",
        message: "feature gradients \(featureGradients.shape): expected [\(batchSize), 1024]")
    }
    try OpenMPThreads.set(threads)
    try diffFeatures.write(featureGradients.values)
    try diffFeaturesReorder?.forward(source: diffFeatures, destination: diffPooled, engine: engine)
    try pooling.backward(
      diffDestination: diffFeaturesReorder == nil ? diffFeatures : diffPooled,
      diffSource: stages.last!.diffActivation, engine: engine)
    for index in stages.indices.reversed() {
      let stage = stages[index]
      let propagates = index > 0 || computesInputGradient
      try stage.backward(propagatesToSource: propagates, engine: engine)
      guard propagates, let reorder = stage.diffSourceReorder else { continue }
      let target = index > 0 ? stages[index - 1].diffActivation : inputDiff!
      try reorder.forward(source: stage.diffSource, destination: target, engine: engine)
    }
    try engine.wait()
  }

  /// The input's diff from the last `backward`, [N, H, W, 3] (only with computesInputGradient).
  public func inputGradient() throws -> HostTensor? {
    guard let inputDiff else { return nil }
    let count = batchSize * imageSize * imageSize * 3
    let start = inputDiff.dataHandle!.assumingMemoryBound(to: Float.self)
    return HostTensor(
      shape: [batchSize, imageSize, imageSize, 3],
      values: Array(UnsafeBufferPointer(start: start, count: count)))
  }

  /// One SGD-with-momentum step on every trained tensor from the last backward pass:
  /// g += weightDecay * W (convolution weights only), v = momentum * v - lr * g, p += v.
  public func update(learningRate: Float, momentum: Float, weightDecay: Float = 0) {
    for stage in stages {
      let channels = stage.channelCount
      Self.step(
        stage.gamma, gradient: stage.diffGamma, velocity: &stage.gammaVelocity, count: channels,
        learningRate: learningRate, momentum: momentum, weightDecay: 0)
      Self.step(
        stage.beta, gradient: stage.diffBeta, velocity: &stage.betaVelocity, count: channels,
        learningRate: learningRate, momentum: momentum, weightDecay: 0)
      if let diffWeights = stage.diffWeights {
        // Blocked layouts pad with zeros whose gradients are zero, so they stay zero.
        Self.step(
          stage.weights, gradient: diffWeights, velocity: &stage.weightsVelocity,
          count: stage.weightsVelocity.count, learningRate: learningRate, momentum: momentum,
          weightDecay: weightDecay)
        stage.weightsChanged()
      }
    }
  }

  private static func step(
    _ parameter: Memory, gradient: Memory, velocity: inout [Float], count: Int,
    learningRate: Float, momentum: Float, weightDecay: Float
  ) {
    let values = parameter.dataHandle!.assumingMemoryBound(to: Float.self)
    let gradients = gradient.dataHandle!.assumingMemoryBound(to: Float.self)
    velocity.withUnsafeMutableBufferPointer { velocities in
      MomentumSGD.step(
        parameters: UnsafeMutableBufferPointer(start: values, count: count),
        gradients: UnsafeBufferPointer(start: gradients, count: count),
        velocity: UnsafeMutableBufferPointer(rebasing: velocities[0..<count]),
        learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
    }
  }
}
