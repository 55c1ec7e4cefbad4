import CDNNL

/// A fully connected layer; with a [N, C, 1, 1] source it is MobileNet's 1x1 logits convolution.
///
///   source       [N, C] or [N, C, H, W]  (plain layout)
///   weights      [O, C] or [O, C, H, W]  (layout oneDNN chooses)
///   bias         [O]
///   destination  [N, O]                  (plain)
public final class InnerProduct: ScratchpadUser {
  /// Layer name for errors.
  public let name: String
  let forwardPrimitive: Primitive
  /// diff source from diff destination and weights (training only).
  let backwardDataPrimitive: Primitive?
  /// diff weights and diff bias from source and diff destination (training only).
  let backwardWeightsPrimitive: Primitive?

  /// Creates the forward primitive for `outputCount` outputs over `sourceLayout`.
  public init(
    sourceLayout: MemoryDescriptor, outputCount: Int, propagation: Propagation = .inference,
    engine: CPUEngine, name: String
  ) throws {
    self.name = name
    var sourceDims = sourceLayout.dimensions
    guard sourceDims.count == 2 || sourceDims.count == 4, outputCount > 0 else {
      throw EngineError(
        code: .invalidConfiguration, layer: name,
        message: "inner product over a \(sourceDims) source: use [N, C] or [N, C, H, W]")
    }
    let batchSize = sourceDims.removeFirst()
    let weights = try MemoryDescriptor.any([outputCount] + sourceDims, layer: name)
    let bias = try MemoryDescriptor.plain([outputCount], layer: name)
    let destination = try MemoryDescriptor.plain([batchSize, outputCount], layer: name)
    var operation = dnnl_inner_product_desc_t()
    let status = withUnsafePointer(to: sourceLayout.raw) { sourcePointer in
      withUnsafePointer(to: weights.raw) { weightsPointer in
        withUnsafePointer(to: bias.raw) { biasPointer in
          withUnsafePointer(to: destination.raw) { destinationPointer in
            dnnl_inner_product_forward_desc_init(
              &operation, propagation.dnnlValue, sourcePointer, weightsPointer, biasPointer,
              destinationPointer)
          }
        }
      }
    }
    try checkDNNL(status, "dnnl_inner_product_forward_desc_init", layer: name)
    forwardPrimitive = try Primitive(operation: &operation, engine: engine, name: name)
    guard propagation == .training else {
      backwardDataPrimitive = nil
      backwardWeightsPrimitive = nil
      return
    }
    // The backward passes take the layouts forward chose, so no reorders sit between them.
    let chosenWeights = forwardPrimitive.memoryDescriptor(dnnl_query_weights_md)
    var dataOperation = dnnl_inner_product_desc_t()
    let dataStatus = withUnsafePointer(to: sourceLayout.raw) { sourcePointer in
      withUnsafePointer(to: chosenWeights.raw) { weightsPointer in
        withUnsafePointer(to: destination.raw) { destinationPointer in
          dnnl_inner_product_backward_data_desc_init(
            &dataOperation, sourcePointer, weightsPointer, destinationPointer)
        }
      }
    }
    try checkDNNL(dataStatus, "dnnl_inner_product_backward_data_desc_init", layer: name)
    backwardDataPrimitive = try Primitive(
      operation: &dataOperation, engine: engine, hint: forwardPrimitive,
      name: name + "/backward_data")
    var weightsOperation = dnnl_inner_product_desc_t()
    let weightsStatus = withUnsafePointer(to: sourceLayout.raw) { sourcePointer in
      withUnsafePointer(to: chosenWeights.raw) { weightsPointer in
        withUnsafePointer(to: bias.raw) { biasPointer in
          withUnsafePointer(to: destination.raw) { destinationPointer in
            dnnl_inner_product_backward_weights_desc_init(
              &weightsOperation, sourcePointer, weightsPointer, biasPointer, destinationPointer)
          }
        }
      }
    }
    try checkDNNL(weightsStatus, "dnnl_inner_product_backward_weights_desc_init", layer: name)
    backwardWeightsPrimitive = try Primitive(
      operation: &weightsOperation, engine: engine, hint: forwardPrimitive,
      name: name + "/backward_weights")
  }

  /// Layout the primitive reads its weights in.
  public var weightsDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_weights_md)
  }
  /// Layout of the bias.
  public var biasDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_weights_md, index: 1)
  }
  /// Layout of the destination (plain [N, O]).
  public var destinationDescriptor: MemoryDescriptor {
    forwardPrimitive.memoryDescriptor(dnnl_query_dst_md)
  }

  /// destination[n, o] = sum over c of source[n, c] * weights[o, c] + bias[o].
  public func forward(
    source: Memory, weights: Memory, bias: Memory, destination: Memory, engine: CPUEngine
  ) throws {
    try forwardPrimitive.execute(
      [
        (DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_BIAS, bias),
        (DNNL_ARG_DST, destination),
      ], on: engine)
  }

  /// diff source[n, c] = sum over o of diff destination[n, o] * weights[o, c].
  public func backwardData(
    diffDestination: Memory, weights: Memory, diffSource: Memory, engine: CPUEngine
  ) throws {
    try requireTraining(backwardDataPrimitive).execute(
      [
        (DNNL_ARG_DIFF_DST, diffDestination), (DNNL_ARG_WEIGHTS, weights),
        (DNNL_ARG_DIFF_SRC, diffSource),
      ], on: engine)
  }

  /// diff weights[o, c] = sum over n of diff destination[n, o] * source[n, c];
  /// diff bias[o] = sum over n of diff destination[n, o]. Layouts as weights and bias.
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

  var primitives: [Primitive] {
    [forwardPrimitive] + [backwardDataPrimitive, backwardWeightsPrimitive].compactMap { $0 }
  }

  public var scratchpadByteCount: Int { primitives.scratchpadByteCount }

  public func bindScratchpad(_ buffer: UnsafeMutableRawPointer) throws {
    try primitives.bindScratchpad(buffer)
  }
}
