import CDNNL

/// TensorFlow's relu6, y = min(max(x, 0), 6), as a oneDNN eltwise clip on any layout.
///
///   source, destination  same shape and layout
///
/// Convolutions fuse it as a post-op for inference and training fuses it with batch norm
/// (`BatchNormalizationReLU6`); this standalone layer is the reference both fusions are tested
/// against.
public final class ReLU6: ScratchpadUser {
  /// Layer name for errors.
  public let name: String
  /// The clip bounds: 0 below, 6 above (TF's relu6 constant).
  static let lowerBound: Float = 0
  static let upperBound: Float = 6
  let forwardPrimitive: Primitive
  /// diff source from source and diff destination (training only).
  let backwardPrimitive: Primitive?

  /// Creates the forward primitive on a given data layout.
  public init(
    dataLayout: MemoryDescriptor, propagation: Propagation = .inference, engine: CPUEngine,
    name: String
  ) throws {
    self.name = name
    var operation = dnnl_eltwise_desc_t()
    let status = withUnsafePointer(to: dataLayout.raw) {
      dnnl_eltwise_forward_desc_init(
        &operation, propagation.dnnlValue, dnnl_eltwise_clip, $0, ReLU6.lowerBound,
        ReLU6.upperBound)
    }
    try checkDNNL(status, "dnnl_eltwise_forward_desc_init(clip)", layer: name)
    forwardPrimitive = try Primitive(operation: &operation, engine: engine, name: name)
    guard propagation == .training else {
      backwardPrimitive = nil
      return
    }
    var backwardOperation = dnnl_eltwise_desc_t()
    let backwardStatus = withUnsafePointer(to: dataLayout.raw) {
      dnnl_eltwise_backward_desc_init(
        &backwardOperation, dnnl_eltwise_clip, $0, $0, ReLU6.lowerBound, ReLU6.upperBound)
    }
    try checkDNNL(backwardStatus, "dnnl_eltwise_backward_desc_init(clip)", layer: name)
    backwardPrimitive = try Primitive(
      operation: &backwardOperation, engine: engine, hint: forwardPrimitive,
      name: name + "/backward")
  }

  /// destination = min(max(source, 0), 6); source and destination may be the same memory.
  public func forward(source: Memory, destination: Memory, engine: CPUEngine) throws {
    try forwardPrimitive.execute([(DNNL_ARG_SRC, source), (DNNL_ARG_DST, destination)], on: engine)
  }

  /// diff source = diff destination where 0 < source < 6, else 0 (the forward's source).
  public func backward(
    source: Memory, diffDestination: Memory, diffSource: Memory, engine: CPUEngine
  ) throws {
    guard let backwardPrimitive else {
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "backward pass of an inference-only layer; create it with propagation .training")
    }
    try backwardPrimitive.execute(
      [
        (DNNL_ARG_SRC, source), (DNNL_ARG_DIFF_DST, diffDestination),
        (DNNL_ARG_DIFF_SRC, diffSource),
      ],
      on: engine)
  }

  var primitives: [Primitive] { [forwardPrimitive] + [backwardPrimitive].compactMap { $0 } }

  public var scratchpadByteCount: Int { primitives.scratchpadByteCount }

  public func bindScratchpad(_ buffer: UnsafeMutableRawPointer) throws {
    try primitives.bindScratchpad(buffer)
  }
}
