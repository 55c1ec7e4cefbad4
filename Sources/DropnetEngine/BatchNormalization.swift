import CDNNL

/// Batch normalization with a learnt scale (gamma) and shift (beta), per channel of an NCHW
/// tensor. Inference uses the stored moving mean and variance (`use_global_stats`); training
/// uses the batch's statistics and has a backward pass.
///
///   source, destination  [N, C, H, W]   (the same layout)
///   mean, variance       [C]
///   scale, shift         [C]
///   y = scale * (x - mean) / sqrt(variance + epsilon) + shift
///
/// MobileNetV1 folds this into the preceding convolution for inference, and training runs the
/// fused `BatchNormalizationReLU6`; this layer is the unfused oneDNN reference both are tested
/// against.
public final class BatchNormalization: ScratchpadUser {
  /// Layer name for errors.
  public let name: String
  /// Added to the variance before the square root; TF-slim MobileNet uses 0.001.
  public let epsilon: Float
  let forwardPrimitive: Primitive
  /// diff source, diff scale and diff shift (training only).
  let backwardPrimitive: Primitive?
  let propagation: Propagation

  /// Creates the forward primitive on a given data layout. Inference normalizes with the
  /// stored moving statistics; training with the batch's own mean and (biased) variance, which
  /// forward returns so the caller can update its moving averages.
  public init(
    dataLayout: MemoryDescriptor, epsilon: Float, propagation: Propagation = .inference,
    engine: CPUEngine, name: String
  ) throws {
    self.name = name
    self.epsilon = epsilon
    self.propagation = propagation
    let scaleAndShift = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
    let forwardFlags =
      propagation == .inference ? scaleAndShift | dnnl_use_global_stats.rawValue : scaleAndShift
    var operation = dnnl_batch_normalization_desc_t()
    let status = withUnsafePointer(to: dataLayout.raw) {
      dnnl_batch_normalization_forward_desc_init(
        &operation, propagation.dnnlValue, $0, epsilon, UInt32(forwardFlags))
    }
    try checkDNNL(status, "dnnl_batch_normalization_forward_desc_init", layer: name)
    forwardPrimitive = try Primitive(operation: &operation, engine: engine, name: name)
    guard propagation == .training else {
      backwardPrimitive = nil
      return
    }
    var backwardOperation = dnnl_batch_normalization_desc_t()
    let backwardStatus = withUnsafePointer(to: dataLayout.raw) {
      dnnl_batch_normalization_backward_desc_init(
        &backwardOperation, dnnl_backward, $0, $0, epsilon, UInt32(scaleAndShift))
    }
    try checkDNNL(backwardStatus, "dnnl_batch_normalization_backward_desc_init", layer: name)
    backwardPrimitive = try Primitive(
      operation: &backwardOperation, engine: engine, hint: forwardPrimitive,
      name: name + "/backward")
  }

  /// Layout of the per-channel parameters (plain [C]).
  public var parameterDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_weights_md)
  }
  /// Layout of source and destination.
  public var destinationDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_dst_md)
  }

  /// Inference: destination = scale * (source - mean) / sqrt(variance + epsilon) + shift with
  /// the stored moving mean and variance.
  public func forward(
    source: Memory, mean: Memory, variance: Memory, scale: Memory, shift: Memory,
    destination: Memory, engine: CPUEngine
  ) throws {
    guard propagation == .inference else {
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "a training batch norm computes its statistics; call forwardTraining")
    }
    try forwardPrimitive.execute(
      [
        (DNNL_ARG_SRC, source), (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance),
        (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift), (DNNL_ARG_DST, destination),
      ], on: engine)
  }

  /// Training: per channel c, batchMean[c] = mean of source over N, H, W, batchVariance[c] =
  /// mean of (source - batchMean)^2 (biased, 1/count), then normalizes as `forward`.
  public func forwardTraining(
    source: Memory, scale: Memory, shift: Memory, destination: Memory, batchMean: Memory,
    batchVariance: Memory, engine: CPUEngine
  ) throws {
    guard backwardPrimitive != nil else {
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "an inference batch norm uses stored statistics; create it with .training")
    }
    try forwardPrimitive.execute(
      [
        (DNNL_ARG_SRC, source), (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift),
        (DNNL_ARG_DST, destination), (DNNL_ARG_MEAN, batchMean),
        (DNNL_ARG_VARIANCE, batchVariance),
      ], on: engine)
  }

  /// With x^ = (source - mean) / sqrt(variance + eps) and m = N * H * W per channel:
  ///   diff shift = sum dy,  diff scale = sum dy * x^,
  ///   diff source = scale / sqrt(variance + eps) * (dy - diff shift / m - x^ * diff scale / m)
  /// using the batch statistics `forwardTraining` returned. `shift` does not enter the
  /// gradients, but oneDNN 2.6 requires every parameter of forward to be passed.
  public func backward(
    source: Memory, batchMean: Memory, batchVariance: Memory, scale: Memory, shift: Memory,
    diffDestination: Memory, diffSource: Memory, diffScale: Memory, diffShift: Memory,
    engine: CPUEngine
  ) throws {
    guard let backwardPrimitive else {
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "backward pass of an inference-only layer; create it with propagation .training")
    }
    try backwardPrimitive.execute(
      [
        (DNNL_ARG_SRC, source), (DNNL_ARG_MEAN, batchMean), (DNNL_ARG_VARIANCE, batchVariance),
        (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift), (DNNL_ARG_DIFF_DST, diffDestination),
        (DNNL_ARG_DIFF_SRC, diffSource), (DNNL_ARG_DIFF_SCALE, diffScale),
        (DNNL_ARG_DIFF_SHIFT, diffShift),
      ], on: engine)
  }

  var primitives: [Primitive] { [forwardPrimitive] + [backwardPrimitive].compactMap { $0 } }

  public var scratchpadByteCount: Int { primitives.scratchpadByteCount }

  public func bindScratchpad(_ buffer: UnsafeMutableRawPointer) throws {
    try primitives.bindScratchpad(buffer)
  }
}
