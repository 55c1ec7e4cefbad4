import CDNNL

/// Softmax over the class axis of [N, classes] logits, computed stably (max subtracted).
///
///   source, destination  [N, K]  (plain)
///   destination[n, k] = exp(source[n, k] - max) / sum over j of exp(source[n, j] - max)
public final class Softmax: ScratchpadUser {
  /// Layer name for errors.
  public let name: String
  let forwardPrimitive: Primitive

  /// Creates the forward primitive over axis 1 of a plain [N, K] tensor.
  public init(
    batchSize: Int, classCount: Int, propagation: Propagation = .inference, engine: CPUEngine,
    name: String
  ) throws {
    self.name = name
    let data = try MemoryDescriptor.plain([batchSize, classCount], layer: name)
    var operation = dnnl_softmax_v2_desc_t()
    let classAxis: Int32 = 1
    let status = withUnsafePointer(to: data.raw) {
      dnnl_softmax_v2_forward_desc_init(
        &operation, propagation.dnnlValue, dnnl_softmax_accurate, $0, $0, classAxis)
    }
    try checkDNNL(status, "dnnl_softmax_v2_forward_desc_init", layer: name)
    forwardPrimitive = try Primitive(operation: &operation, engine: engine, name: name)
  }

  /// destination = softmax(source) along the class axis.
  public func forward(source: Memory, destination: Memory, engine: CPUEngine) throws {
    try forwardPrimitive.execute([(DNNL_ARG_SRC, source), (DNNL_ARG_DST, destination)], on: engine)
  }

  // Backward: fused with cross-entropy in the loss, diff logits =
  // probabilities - one_hot(label); a softmax backward primitive if it is ever needed alone.

  var primitives: [Primitive] { [forwardPrimitive] }

  public var scratchpadByteCount: Int { primitives.scratchpadByteCount }

  public func bindScratchpad(_ buffer: UnsafeMutableRawPointer) throws {
    try primitives.bindScratchpad(buffer)
  }
}
