import CDNNL

/// A 2-D convolution (standard, depthwise via `groups`, or 1x1 pointwise) with bias and an
/// optional fused ReLU6, on layouts oneDNN chooses (`format_tag_any`).
///
/// Shapes (logical, oneDNN order):
///   source      [N, C, H, W]
///   weights     [O, C, K, K]   or [G, O/G, C/G, K, K] when grouped
///   bias        [O]
///   destination [N, O, OH, OW] with OH = (H + padTop + padBottom - K) / stride + 1
public final class Convolution: ScratchpadUser {
  /// Layer name for errors.
  public let name: String
  public let geometry: ConvolutionGeometry
  let forwardPrimitive: Primitive
  /// diff source from diff destination and weights (training only).
  let backwardDataPrimitive: Primitive?
  /// diff weights and diff bias from source and diff destination (training only).
  let backwardWeightsPrimitive: Primitive?

  /// Layout the primitive reads its source in.
  public var sourceDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_src_md)
  }
  /// Layout the primitive reads its weights in (reorder the plain OIHW weights into it once).
  public var weightsDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_weights_md)
  }
  /// Layout of the bias.
  public var biasDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_weights_md, index: 1)
  }
  /// Layout the primitive writes its destination in.
  public var destinationDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_dst_md)
  }

  /// Layout the backward passes read the destination's diff in (the destination's layout, in
  /// `precision`).
  public var diffDestinationDescriptor: MemoryDescriptor {
    backwardDataPrimitive?.memoryDescriptor(dnnl_query_diff_dst_md) ?? destinationDescriptor
  }

  /// Layout of the weights' gradient (training; float32 whatever the precision, so trained
  /// weights keep float32 master copies in it).
  public var diffWeightsDescriptor: MemoryDescriptor {
    backwardWeightsPrimitive?.memoryDescriptor(dnnl_query_diff_weights_md) ?? weightsDescriptor
  }

  /// The number format of source, weights and destination.
  public let precision: Precision

  /// oneDNN's name for the kernel it chose ("jit_1x1:avx2", "jit_dw:avx2", ... or "ref:any").
  public var implementationName: String { forwardPrimitive.implementationName }

  /// Layout backwardData reads its weights in: the forward's, unless the layer was made with
  /// `backwardDataChoosesWeightsLayout` and oneDNN picked another (reorder into it).
  public var backwardDataWeightsDescriptor: MemoryDescriptor {
    backwardDataPrimitive?.memoryDescriptor(dnnl_query_weights_md) ?? weightsDescriptor
  }

  /// Creates the forward primitive.
  /// - Parameters:
  ///   - fuseReLU6: apply min(max(x, 0), 6) to the output as a post-op (BN already folded in).
  ///   - sourceLayout: a fixed source layout, or nil to let oneDNN choose.
  ///   - backwardDataChoosesWeightsLayout: let the backward-data primitive choose its weights
  ///     layout (`backwardDataWeightsDescriptor`). oneDNN 2.6's 1x1 backward-data kernel
  ///     rejects the forward's weights layout and falls back to "ref:any", which is ~10x slower.
  ///   - precision: the type of source, weights and destination (and their diffs); the bias
  ///     and the weights' gradient are float32.
  ///   - destinationPrecision: another type for the forward destination (float32 accumulators
  ///     written out in full), its diff staying `precision`.
  public init(
    geometry: ConvolutionGeometry, fuseReLU6: Bool, propagation: Propagation = .inference,
    sourceLayout: MemoryDescriptor? = nil, backwardDataChoosesWeightsLayout: Bool = false,
    precision: Precision = .float32, destinationPrecision: Precision? = nil,
    channelsLast: Bool = false, engine: CPUEngine, name: String
  ) throws {
    try geometry.validate(layer: name)
    self.name = name
    self.geometry = geometry
    self.precision = precision
    let activationFormat = channelsLast ? dnnl_nhwc : dnnl_format_tag_any
    let source =
      try sourceLayout
      ?? MemoryDescriptor(
        dimensions: geometry.sourceDimensions, format: activationFormat, precision: precision,
        layer: name)
    let weights = try MemoryDescriptor.any(
      geometry.weightsDimensions, precision: precision, layer: name)
    let bias = try MemoryDescriptor.plain([geometry.outputChannels], layer: name)
    let destination = try MemoryDescriptor(
      dimensions: geometry.destinationDimensions, format: activationFormat,
      precision: destinationPrecision ?? precision, layer: name)
    let strides = [dnnl_dim_t(geometry.stride), dnnl_dim_t(geometry.stride)]
    let paddingBefore = geometry.padding.before.map { dnnl_dim_t($0) }
    let paddingAfter = geometry.padding.after.map { dnnl_dim_t($0) }
    var operation = dnnl_convolution_desc_t()
    let status = withUnsafePointer(to: source.raw) { sourcePointer in
      withUnsafePointer(to: weights.raw) { weightsPointer in
        withUnsafePointer(to: bias.raw) { biasPointer in
          withUnsafePointer(to: destination.raw) { destinationPointer in
            dnnl_convolution_forward_desc_init(
              &operation, propagation.dnnlValue, dnnl_convolution_direct, sourcePointer,
              weightsPointer, biasPointer, destinationPointer, strides, paddingBefore,
              paddingAfter)
          }
        }
      }
    }
    try checkDNNL(status, "dnnl_convolution_forward_desc_init", layer: name)
    forwardPrimitive = try Primitive(
      operation: &operation, postOperation: fuseReLU6 ? .relu6 : .none, engine: engine, name: name)
    guard propagation == .training else {
      backwardDataPrimitive = nil
      backwardWeightsPrimitive = nil
      return
    }
    guard !fuseReLU6 else {
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "a fused ReLU6 post-op has no backward pass; for training use a separate "
          + "ReLU6 layer after the convolution")
    }
    // The backward passes take the layouts forward chose, so no reorders sit between them.
    let chosenSource = forwardPrimitive.memoryDescriptor(dnnl_query_src_md)
    let chosenWeights = forwardPrimitive.memoryDescriptor(dnnl_query_weights_md)
    // The destination's diff in the computing precision, in the forward's layout.
    let chosenDestination = forwardPrimitive.memoryDescriptor(dnnl_query_dst_md)
      .with(precision: precision)
    let dataWeights = backwardDataChoosesWeightsLayout ? weights : chosenWeights
    var dataOperation = dnnl_convolution_desc_t()
    let dataStatus = withUnsafePointer(to: chosenSource.raw) { sourcePointer in
      withUnsafePointer(to: dataWeights.raw) { weightsPointer in
        withUnsafePointer(to: chosenDestination.raw) { destinationPointer in
          dnnl_convolution_backward_data_desc_init(
            &dataOperation, dnnl_convolution_direct, sourcePointer, weightsPointer,
            destinationPointer, strides, paddingBefore, paddingAfter)
        }
      }
    }
    try checkDNNL(dataStatus, "dnnl_convolution_backward_data_desc_init", layer: name)
    backwardDataPrimitive = try Primitive(
      operation: &dataOperation, engine: engine, hint: forwardPrimitive,
      name: name + "/backward_data")
    // The weights' gradient in float32: in float32 the forward's layout (the SGD update then
    // runs over both element by element); in bfloat16 a layout of the kernel's choosing.
    let diffWeights =
      precision == .float32
      ? chosenWeights : try MemoryDescriptor.any(geometry.weightsDimensions, layer: name)
    var weightsOperation = dnnl_convolution_desc_t()
    let weightsStatus = withUnsafePointer(to: chosenSource.raw) { sourcePointer in
      withUnsafePointer(to: diffWeights.raw) { weightsPointer in
        withUnsafePointer(to: bias.raw) { biasPointer in
          withUnsafePointer(to: chosenDestination.raw) { destinationPointer in
            dnnl_convolution_backward_weights_desc_init(
              &weightsOperation, dnnl_convolution_direct, sourcePointer, weightsPointer,
              biasPointer, destinationPointer, strides, paddingBefore, paddingAfter)
          }
        }
      }
    }
    try checkDNNL(weightsStatus, "dnnl_convolution_backward_weights_desc_init", layer: name)
    backwardWeightsPrimitive = try Primitive(
      operation: &weightsOperation, engine: engine, hint: forwardPrimitive,
      name: name + "/backward_weights")
  }

  /// destination = activation(source (*) weights + bias); all memories in the primitive's layouts.
  public func forward(
    source: Memory, weights: Memory, bias: Memory, destination: Memory, engine: CPUEngine
  ) throws {
    try forwardPrimitive.execute(
      [
        (DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_BIAS, bias),
        (DNNL_ARG_DST, destination),
      ], on: engine)
  }

  /// diff source[n, c, y, x] = sum over o, ky, kx of diff destination[n, o, oy, ox] *
  /// weights[o, c, ky, kx] where y = oy * stride + ky - padTop (the transposed convolution).
  /// Layouts: `sourceDescriptor` for diff source, `destinationDescriptor` for diff destination,
  /// `backwardDataWeightsDescriptor` for the weights.
  public func backwardData(
    diffDestination: Memory, weights: Memory, diffSource: Memory, engine: CPUEngine
  ) throws {
    try requireTraining(backwardDataPrimitive).execute(
      [
        (DNNL_ARG_DIFF_DST, diffDestination), (DNNL_ARG_WEIGHTS, weights),
        (DNNL_ARG_DIFF_SRC, diffSource),
      ], on: engine)
  }

  /// diff weights[o, c, ky, kx] = sum over n, oy, ox of diff destination[n, o, oy, ox] *
  /// source[n, c, y, x]; diff bias[o] = sum over n, oy, ox of diff destination[n, o, oy, ox].
  /// diff weights and diff bias have the layouts of weights and bias.
  public func backwardWeights(
    source: Memory, diffDestination: Memory, diffWeights: Memory, diffBias: Memory,
    engine: CPUEngine
  ) throws {
    try requireTraining(backwardWeightsPrimitive).execute(
      [
        (DNNL_ARG_SRC, source), (DNNL_ARG_DIFF_DST, diffDestination),
        (DNNL_ARG_DIFF_WEIGHTS, diffWeights), (DNNL_ARG_DIFF_BIAS, diffBias),
      ], on: engine)
  }

  private func requireTraining(_ primitive: Primitive?) throws -> Primitive {
    guard let primitive else {
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "backward pass of an inference-only layer; create it with propagation .training")
    }
    return primitive
  }

  /// The primitives that need a scratchpad buffer.
  var primitives: [Primitive] {
    [forwardPrimitive] + [backwardDataPrimitive, backwardWeightsPrimitive].compactMap { $0 }
  }

  public var scratchpadByteCount: Int { primitives.scratchpadByteCount }

  public func bindScratchpad(_ buffer: UnsafeMutableRawPointer) throws {
    try primitives.bindScratchpad(buffer)
  }
}
