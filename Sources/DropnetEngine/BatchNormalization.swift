import CDNNL

/// Batch normalization with a learnt scale (gamma) and shift (beta), per channel of an NCHW
/// tensor. Inference mode uses the stored moving mean and variance (`use_global_stats`).
///
///   source, destination  [N, C, H, W]   (the same layout)
///   mean, variance       [C]
///   scale, shift         [C]
///   y = scale * (x - mean) / sqrt(variance + epsilon) + shift
///
/// MobileNetV1 folds this into the preceding convolution for inference; this layer exists for
/// training and as the unfused reference the folding is tested against.
public final class BatchNormalization {
  /// Layer name for errors.
  public let name: String
  /// Added to the variance before the square root; TF-slim MobileNet uses 0.001.
  public let epsilon: Float
  let forwardPrimitive: Primitive

  /// Creates the inference forward primitive on a given data layout.
  public init(dataLayout: MemoryDescriptor, epsilon: Float, engine: CPUEngine, name: String) throws
  {
    self.name = name
    self.epsilon = epsilon
    var operation = dnnl_batch_normalization_desc_t()
    let flags = dnnl_use_global_stats.rawValue | dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
    let status = withUnsafePointer(to: dataLayout.raw) {
      dnnl_batch_normalization_forward_desc_init(
        &operation, dnnl_forward_inference, $0, epsilon, UInt32(flags))
    }
    try checkDNNL(status, "dnnl_batch_normalization_forward_desc_init", layer: name)
    forwardPrimitive = try Primitive(operation: &operation, engine: engine, name: name)
  }

  /// Layout of the per-channel parameters (plain [C]).
  public var parameterDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_weights_md)
  }
  /// Layout of source and destination.
  public var destinationDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_dst_md)
  }

  /// destination = scale * (source - mean) / sqrt(variance + epsilon) + shift.
  public func forward(
    source: Memory, mean: Memory, variance: Memory, scale: Memory, shift: Memory,
    destination: Memory, engine: CPUEngine
  ) throws {
    try forwardPrimitive.execute(
      [
        (DNNL_ARG_SRC, source), (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance),
        (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift), (DNNL_ARG_DST, destination),
      ], on: engine)
  }

  // Backward (training issue): a batch-statistics forward_training primitive (it outputs mean
  // and variance) and its backward (diff scale, diff shift, diff source) go here.

  var primitives: [Primitive] { [forwardPrimitive] }
}
