import CDNNL

/// Average pooling over square windows; MobileNet's head uses one window covering the whole
/// feature map (global average pooling).
///
///   source       [N, C, H, W]
///   destination  [N, C, OH, OW],  OH = (H - K) / stride + 1 (no padding)
public final class Pooling: ScratchpadUser {
  /// Layer name for errors.
  public let name: String
  let forwardPrimitive: Primitive
  /// diff source from diff destination (training only).
  let backwardPrimitive: Primitive?

  /// Creates an average pooling primitive reading `sourceLayout` (padding is not counted).
  public init(
    sourceLayout: MemoryDescriptor, kernelSize: Int, stride: Int,
    propagation: Propagation = .inference, engine: CPUEngine, name: String
  ) throws {
    self.name = name
    let dims = sourceLayout.dimensions
    guard dims.count == 4, kernelSize > 0, stride > 0, dims[2] >= kernelSize, dims[3] >= kernelSize
    else {
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "pooling a \(dims) tensor with a \(kernelSize)x\(kernelSize) window: the source "
          + "must be [N, C, H, W] with H and W at least the window")
    }
    let outputHeight = (dims[2] - kernelSize) / stride + 1
    let outputWidth = (dims[3] - kernelSize) / stride + 1
    let destination = try MemoryDescriptor.any(
      [dims[0], dims[1], outputHeight, outputWidth], precision: sourceLayout.precision,
      layer: name)
    let strides = [dnnl_dim_t(stride), dnnl_dim_t(stride)]
    let kernel = [dnnl_dim_t(kernelSize), dnnl_dim_t(kernelSize)]
    let noPadding: [dnnl_dim_t] = [0, 0]
    var operation = dnnl_pooling_desc_t()
    let status = withUnsafePointer(to: sourceLayout.raw) { sourcePointer in
      withUnsafePointer(to: destination.raw) { destinationPointer in
        dnnl_pooling_forward_desc_init(
          &operation, propagation.dnnlValue, dnnl_pooling_avg_exclude_padding, sourcePointer,
          destinationPointer, strides, kernel, noPadding, noPadding)
      }
    }
    try checkDNNL(status, "dnnl_pooling_forward_desc_init", layer: name)
    forwardPrimitive = try Primitive(operation: &operation, engine: engine, name: name)
    guard propagation == .training else {
      backwardPrimitive = nil
      return
    }
    let chosenDestination = forwardPrimitive.memoryDescriptor(dnnl_query_dst_md)
    var backwardOperation = dnnl_pooling_desc_t()
    let backwardStatus = withUnsafePointer(to: sourceLayout.raw) { sourcePointer in
      withUnsafePointer(to: chosenDestination.raw) { destinationPointer in
        dnnl_pooling_backward_desc_init(
          &backwardOperation, dnnl_pooling_avg_exclude_padding, sourcePointer,
          destinationPointer, strides, kernel, noPadding, noPadding)
      }
    }
    try checkDNNL(backwardStatus, "dnnl_pooling_backward_desc_init", layer: name)
    backwardPrimitive = try Primitive(
      operation: &backwardOperation, engine: engine, hint: forwardPrimitive,
      name: name + "/backward")
  }

  /// Layout the primitive writes its destination in.
  public var destinationDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_dst_md)
  }

  /// destination = mean of each window of source.
  public func forward(source: Memory, destination: Memory, engine: CPUEngine) throws {
    try forwardPrimitive.execute([(DNNL_ARG_SRC, source), (DNNL_ARG_DST, destination)], on: engine)
  }

  /// diff source[n, c, y, x] = sum over the windows w containing (y, x) of
  /// diff destination[n, c, w] / (K * K). diff source has the source's layout.
  public func backward(diffDestination: Memory, diffSource: Memory, engine: CPUEngine) throws {
    guard let backwardPrimitive else {
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "backward pass of an inference-only layer; create it with propagation .training")
    }
    try backwardPrimitive.execute(
      [(DNNL_ARG_DIFF_DST, diffDestination), (DNNL_ARG_DIFF_SRC, diffSource)], on: engine)
  }

  var primitives: [Primitive] { [forwardPrimitive] + [backwardPrimitive].compactMap { $0 } }

  public var scratchpadByteCount: Int { primitives.scratchpadByteCount }

  public func bindScratchpad(_ buffer: UnsafeMutableRawPointer) throws {
    try primitives.bindScratchpad(buffer)
  }
}
