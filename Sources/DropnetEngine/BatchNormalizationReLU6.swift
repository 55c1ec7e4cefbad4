import DropnetKernels

/// Batch normalization with the batch's statistics followed by ReLU6, fused in one
/// hand-written kernel (`DropnetKernels`): what every MobileNet layer does after its
/// convolution when fine-tuning, and what oneDNN 2.6 cannot fuse in training.
///
///   source x        [N, C, H, W]  the convolution's output; the backward pass reads it again
///   destination z   [N, C, H, W]  min(max(gamma * (x - mean_B) / sqrt(var_B + eps) + beta, 0), 6)
///   batchMean, batchVariance [C]  the batch's mean and biased variance (moving statistics)
///   scale, shift    [C]           gamma and beta
///
/// Both passes are memory-bound: forward reads x twice and writes z; backward reads x and dz
/// twice and writes dx, recomputing ReLU6's mask from x (0 < y < 6) instead of reading z.
/// Unfused oneDNN batch norm + ReLU6 move about 1.75x the bytes. Layouts: nChw8c and nChw16c
/// (what oneDNN picks for training convolutions), NCHW and NHWC, without channel padding;
/// activations in float32 or bfloat16 (statistics and gradients of gamma and beta float32).
public final class BatchNormalizationReLU6 {
  /// Layer name for errors.
  public let name: String
  /// Added to the variance before the square root; TF-slim MobileNet uses 0.001.
  public let epsilon: Float
  /// Threads of the OpenMP pool the kernel uses (oneDNN's pool).
  public let threads: Int
  /// Layout of the destination, its diff and the source's diff.
  public let dataLayout: MemoryDescriptor
  /// Layout of the source: `dataLayout`, or the same layout in float32 (x kept exact while
  /// the rest is bfloat16).
  public let sourceLayout: MemoryDescriptor
  private var shape: dnk_blocked_shape

  /// Prepares the layer for one data layout.
  /// - Throws: `EngineError` `.invalidConfiguration` for a layout the kernel does not read
  ///   (channel padding, or blocking other than by channels).
  public init(
    dataLayout: MemoryDescriptor, sourceLayout: MemoryDescriptor? = nil, epsilon: Float,
    threads: Int, name: String
  ) throws {
    let sourceLayout = sourceLayout ?? dataLayout
    guard let block = dataLayout.channelBlock, threads >= 1, epsilon >= 0,
      sourceLayout.channelBlock == block, sourceLayout.dimensions == dataLayout.dimensions
    else {
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "fused batch norm + ReLU6 reads NCHW, NHWC or channel-blocked layouts "
          + "without padding, with at least one thread; got \(dataLayout.dimensions) "
          + "(unsupported layout or channels not a multiple of the block), \(threads) threads")
    }
    self.name = name
    self.epsilon = epsilon
    self.threads = threads
    self.dataLayout = dataLayout
    self.sourceLayout = sourceLayout
    let dims = dataLayout.dimensions
    shape = dnk_blocked_shape(
      batch: Int64(dims[0]), channels: Int64(dims[1]), spatial: Int64(dims[2] * dims[3]),
      block: Int64(block),
      source_type: sourceLayout.precision == .bfloat16 ? DNK_BFLOAT16 : DNK_FLOAT32,
      element_type: dataLayout.precision == .bfloat16 ? DNK_BFLOAT16 : DNK_FLOAT32)
  }

  /// Normalises with the batch's statistics (written to `batchMean`, `batchVariance`) and
  /// clips to [0, 6]. `destination` must not be `source`: the backward pass reads the source.
  public func forward(
    source: Memory, scale: Memory, shift: Memory, destination: Memory, batchMean: Memory,
    batchVariance: Memory, engine: CPUEngine
  ) throws {
    try checkLayout(source, sourceLayout)
    try checkLayout(destination, dataLayout)
    // The stream is in order and runs on this thread's OpenMP pool; waiting makes the
    // hand-off from oneDNN's last primitive explicit.
    try engine.wait()
    let status = dnk_batch_norm_relu6_forward(
      &shape, source.dataHandle, floats(scale), floats(shift), epsilon, floats(batchMean),
      floats(batchVariance), destination.dataHandle, Int32(threads))
    try check(status, "forward")
  }

  /// From the diff of the destination: diff scale = sum g * x^, diff shift = sum g, and
  /// diff source = scale / sqrt(var + eps) * (g - diff shift / m - x^ * diff scale / m), where
  /// g is the destination's diff where 0 < y < 6 (else 0), x^ the normalised source and
  /// m = N * H * W. `diffSource` may be `diffDestination`.
  public func backward(
    source: Memory, batchMean: Memory, batchVariance: Memory, scale: Memory, shift: Memory,
    diffDestination: Memory, diffSource: Memory, diffScale: Memory, diffShift: Memory,
    engine: CPUEngine
  ) throws {
    try checkLayout(source, sourceLayout)
    try checkLayout(diffDestination, dataLayout)
    try checkLayout(diffSource, dataLayout)
    try engine.wait()
    let status = dnk_batch_norm_relu6_backward(
      &shape, source.dataHandle, diffDestination.dataHandle, floats(scale), floats(shift),
      floats(batchMean), floats(batchVariance), epsilon, diffSource.dataHandle,
      floats(diffScale), floats(diffShift), Int32(threads))
    try check(status, "backward")
  }

  private func checkLayout(_ memory: Memory, _ layout: MemoryDescriptor) throws {
    guard !memory.descriptor.isSameLayout(as: layout) else { return }
    throw EngineError(
      code: .invalidInput, layer: name,
      message: "a \(memory.descriptor.dimensions) memory in another layout or type than the "
        + "layer's \(layout.dimensions); reorder it first")
  }

  private func floats(_ memory: Memory) -> UnsafeMutablePointer<Float>? {
    memory.dataHandle?.assumingMemoryBound(to: Float.self)
  }

  private func check(_ status: dnk_status, _ pass: String) throws {
    guard status != DNK_OK else { return }
    throw EngineError(
      code: .invalidInput, layer: name, status: Int32(status.rawValue),
      message: status == DNK_ERROR_MEMORY
        ? "fused batch norm + ReLU6 \(pass): out of memory for \(shape.channels) channels"
        : "fused batch norm + ReLU6 \(pass): a buffer is missing or aliased (status "
          + "\(status.rawValue))")
  }
}
