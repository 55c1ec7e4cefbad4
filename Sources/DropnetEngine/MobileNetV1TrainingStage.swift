import CDNNL
import DropnetArchitecture

/// One convolution of `MobileNetV1Trainable` with its own batch norm and ReLU6 (one fused
/// kernel, `BatchNormalizationReLU6`), and the memories its backward pass reads.
///
///   source        [N, I, H, W]    the previous stage's activation (reordered if the
///                                 convolution chose another layout)
///   convolution   [N, O, OH, OW]  kept: the batch norm backward reads it
///   activation    [N, O, OH, OW]  batch norm then ReLU6, the next convolution's source; kept
///                                 only when that convolution trains its weights (their
///                                 gradient reads it), else in a buffer the stages share
///   batchMean, batchVariance [O]  this batch's statistics, kept for the backward pass
///   gamma, beta   [O]             trained in every mode but head; moving statistics in Swift
///
/// Diff memories borrow the network's three shared diff buffers (see `MobileNetV1Trainable`).
final class MobileNetV1TrainingStage {
  let layer: MobileNetV1Architecture.Layer
  let convolution: Convolution
  let normalization: BatchNormalizationReLU6
  /// The previous stage's activation (or the input) converted into the convolution's layout.
  let sourceReorder: Reorder?
  /// The reverse conversion of the source's diff, back into the previous activation's layout.
  let diffSourceReorder: Reorder?
  let source: Memory
  /// The float32 master weights, what SGD updates: in float32 the forward convolution's own
  /// weights; in bfloat16 a float32 copy (in the gradient's layout when they train, plain
  /// otherwise) that `computeWeights` is converted from.
  let weights: Memory
  /// The weights the forward convolution reads (`weights` itself in float32), refreshed by
  /// `computeWeightsReorder` when the master changed.
  let computeWeights: Memory
  let computeWeightsReorder: Reorder?
  /// Whether `computeWeights` lags behind `weights`.
  var computeWeightsStale = true
  /// The weights in the layout the backward-data kernel reads (`computeWeights` itself when
  /// equal), refreshed by `dataWeightsReorder` when the master changed.
  let dataWeights: Memory
  let dataWeightsReorder: Reorder?
  /// Whether `dataWeights` lags behind `weights`.
  var dataWeightsStale = true
  /// Zeros: TF-slim's convolutions have no bias (the batch norm's beta plays its part).
  let bias: Memory
  let convolutionOutput: Memory
  let activation: Memory
  /// Whether `activation` has its own buffer (else the network points it at a shared one).
  let keepsActivation: Bool
  let batchMean: Memory
  let batchVariance: Memory
  let gamma: Memory
  let beta: Memory
  let diffGamma: Memory
  let diffBeta: Memory
  /// Whether the convolution's weights train (then the next three exist).
  let trainsWeights: Bool
  let diffWeights: Memory?
  let diffBias: Memory?
  /// SGD momentum of the weights, same physical layout (and padding) as `weights`.
  var weightsVelocity: [Float]
  var gammaVelocity: [Float]
  var betaVelocity: [Float]
  /// Inference statistics, updated as Keras does: moving = 0.99 * moving + 0.01 * batch.
  var movingMean: [Float]
  var movingVariance: [Float]
  /// Diff of `activation` (buffer A), of `convolutionOutput` (buffer B), and of the
  /// convolution's source in its own layout (buffer A, or C when it is reordered after).
  let diffActivation: Memory
  let diffConvolutionOutput: Memory
  let diffSource: Memory

  var channelCount: Int { layer.outputChannels }

  var primitives: [Primitive] {
    convolution.primitives
      + (sourceReorder?.primitives ?? []) + (diffSourceReorder?.primitives ?? [])
      + (dataWeightsReorder?.primitives ?? []) + (computeWeightsReorder?.primitives ?? [])
  }

  /// Builds the stage reading `previous` (the previous activation or the network input).
  init(
    layer: MobileNetV1Architecture.Layer, geometry: ConvolutionGeometry, previous: MemoryDescriptor,
    trainsWeights: Bool, keepsActivation: Bool, precision: Precision, threads: Int,
    engine: CPUEngine
  ) throws {
    self.layer = layer
    self.trainsWeights = trainsWeights
    let name = layer.name
    // The convolution's output stays float32 whatever the precision: batch statistics
    // subtract a channel's mean, often large next to its spread, and bfloat16 would round
    // that difference away.
    convolution = try Convolution(
      geometry: geometry, fuseReLU6: false, propagation: .training,
      backwardDataChoosesWeightsLayout: true, precision: precision,
      destinationPrecision: .float32, engine: engine,
      name: name)
    if convolution.sourceDescriptor.isSameLayout(as: previous) {
      sourceReorder = nil
      diffSourceReorder = nil
      source = try Memory(descriptor: previous, engine: engine, borrowing: nil, layer: name)
      diffSource = try Memory(descriptor: previous, engine: engine, borrowing: nil, layer: name)
    } else {
      sourceReorder = try Reorder(
        from: previous, to: convolution.sourceDescriptor, engine: engine,
        name: name + "/source_reorder")
      diffSourceReorder = try Reorder(
        from: convolution.sourceDescriptor, to: previous, engine: engine,
        name: name + "/diff_source_reorder")
      source = try Memory(descriptor: convolution.sourceDescriptor, engine: engine, layer: name)
      diffSource = try Memory(
        descriptor: convolution.sourceDescriptor, engine: engine, borrowing: nil, layer: name)
    }
    let convolutionLayout = convolution.destinationDescriptor
    let outputLayout = convolutionLayout.with(precision: precision)
    normalization = try BatchNormalizationReLU6(
      dataLayout: outputLayout, sourceLayout: convolutionLayout,
      epsilon: Float(MobileNetV1Architecture.batchNormEpsilon), threads: threads,
      name: name + "/BatchNorm")
    if precision == .float32 {
      weights = try Memory(descriptor: convolution.weightsDescriptor, engine: engine, layer: name)
      computeWeights = weights
      computeWeightsReorder = nil
    } else {
      let master =
        trainsWeights
        ? convolution.diffWeightsDescriptor
        : try MemoryDescriptor.plain(convolution.geometry.weightsDimensions, layer: name)
      weights = try Memory(descriptor: master, engine: engine, layer: name)
      computeWeights = try Memory(
        descriptor: convolution.weightsDescriptor, engine: engine, layer: name)
      computeWeightsReorder = try Reorder(
        from: master, to: convolution.weightsDescriptor, engine: engine,
        name: name + "/compute_weights_reorder")
    }
    if convolution.backwardDataWeightsDescriptor.isSameLayout(as: convolution.weightsDescriptor) {
      dataWeights = computeWeights
      dataWeightsReorder = nil
    } else {
      dataWeights = try Memory(
        descriptor: convolution.backwardDataWeightsDescriptor, engine: engine, layer: name)
      dataWeightsReorder = try Reorder(
        from: weights.descriptor, to: convolution.backwardDataWeightsDescriptor,
        engine: engine, name: name + "/data_weights_reorder")
    }
    bias = try Memory(descriptor: convolution.biasDescriptor, engine: engine, layer: name)
    try bias.write([Float](repeating: 0, count: layer.outputChannels))
    convolutionOutput = try Memory(descriptor: convolutionLayout, engine: engine, layer: name)
    activation =
      keepsActivation
      ? try Memory(descriptor: outputLayout, engine: engine, layer: name)
      : try Memory(descriptor: outputLayout, engine: engine, borrowing: nil, layer: name)
    self.keepsActivation = keepsActivation
    let channels = try MemoryDescriptor.plain([layer.outputChannels], layer: name)
    batchMean = try Memory(descriptor: channels, engine: engine, layer: name)
    batchVariance = try Memory(descriptor: channels, engine: engine, layer: name)
    gamma = try Memory(descriptor: channels, engine: engine, layer: name)
    beta = try Memory(descriptor: channels, engine: engine, layer: name)
    diffGamma = try Memory(descriptor: channels, engine: engine, layer: name)
    diffBeta = try Memory(descriptor: channels, engine: engine, layer: name)
    if trainsWeights {
      // The gradient shares the master's layout, so SGD runs over both element by element.
      diffWeights = try Memory(descriptor: weights.descriptor, engine: engine, layer: name)
      diffBias = try Memory(descriptor: convolution.biasDescriptor, engine: engine, layer: name)
      weightsVelocity = Array(
        repeating: 0, count: weights.descriptor.byteCount / MemoryLayout<Float>.size)
    } else {
      diffWeights = nil
      diffBias = nil
      weightsVelocity = []
    }
    gammaVelocity = Array(repeating: 0, count: layer.outputChannels)
    betaVelocity = gammaVelocity
    movingMean = gammaVelocity
    movingVariance = Array(repeating: 1, count: layer.outputChannels)
    diffActivation = try Memory(
      descriptor: outputLayout, engine: engine, borrowing: nil, layer: name)
    diffConvolutionOutput = try Memory(
      descriptor: convolution.diffDestinationDescriptor, engine: engine, borrowing: nil,
      layer: name)
  }

  /// Forward in training mode: reorder the input if needed, convolve, normalise with the
  /// batch's statistics and clip to [0, 6]. `previous` is the previous activation.
  func forward(previous: Memory, engine: CPUEngine) throws {
    if let sourceReorder {
      try sourceReorder.forward(source: previous, destination: source, engine: engine)
    } else {
      try source.setDataHandle(previous.dataHandle)
    }
    if let computeWeightsReorder, computeWeightsStale {
      try computeWeightsReorder.forward(
        source: weights, destination: computeWeights, engine: engine)
      computeWeightsStale = false
    }
    try convolution.forward(
      source: source, weights: computeWeights, bias: bias, destination: convolutionOutput,
      engine: engine)
    try normalization.forward(
      source: convolutionOutput, scale: gamma, shift: beta, destination: activation,
      batchMean: batchMean, batchVariance: batchVariance, engine: engine)
  }

  /// Marks the converted copies of the weights out of date (after an update or a new value).
  func weightsChanged() {
    computeWeightsStale = true
    dataWeightsStale = true
  }

  /// Folds this batch's statistics into the moving ones (after the stream has finished).
  func updateMovingStatistics(momentum: Float) {
    let mean = batchMean.dataHandle!.assumingMemoryBound(to: Float.self)
    let variance = batchVariance.dataHandle!.assumingMemoryBound(to: Float.self)
    for channel in 0..<channelCount {
      movingMean[channel] = momentum * movingMean[channel] + (1 - momentum) * mean[channel]
      movingVariance[channel] =
        momentum * movingVariance[channel] + (1 - momentum) * variance[channel]
    }
  }

  /// Backward from the activation's diff (in buffer A): ReLU6 and batch norm backward into
  /// buffer B (diff gamma, beta), weight gradients when trained, and
  /// the source's diff into buffer A (or C, reordered into A) when `propagatesToSource`.
  func backward(propagatesToSource: Bool, engine: CPUEngine) throws {
    try normalization.backward(
      source: convolutionOutput, batchMean: batchMean, batchVariance: batchVariance,
      scale: gamma, shift: beta, diffDestination: diffActivation,
      diffSource: diffConvolutionOutput, diffScale: diffGamma, diffShift: diffBeta,
      engine: engine)
    if trainsWeights, let diffWeights, let diffBias {
      try convolution.backwardWeights(
        source: source, diffDestination: diffConvolutionOutput, diffWeights: diffWeights,
        diffBias: diffBias, engine: engine)
    }
    guard propagatesToSource else { return }
    if let dataWeightsReorder, dataWeightsStale {
      // Frozen weights are converted once; trained ones after every update (`weightsChanged`).
      try dataWeightsReorder.forward(source: weights, destination: dataWeights, engine: engine)
      dataWeightsStale = false
    }
    try convolution.backwardData(
      diffDestination: diffConvolutionOutput, weights: dataWeights, diffSource: diffSource,
      engine: engine)
  }
}
