import CDNNL

/// The shape, data type and layout of a oneDNN tensor, with dimensions in oneDNN's logical order
/// (N, C, H, W for activations; [G,] O, I, H, W for weights) whatever the physical layout.
public struct MemoryDescriptor {
  var raw: dnnl_memory_desc_t

  /// Wraps a descriptor that oneDNN produced (for example the layout a primitive chose).
  init(raw: dnnl_memory_desc_t) { self.raw = raw }

  /// A descriptor with the given logical dimensions, layout tag and element type (float32 by
  /// default); `dnnl_format_tag_any` lets the primitive that receives it choose the layout.
  init(
    dimensions: [Int], format: dnnl_format_tag_t, precision: Precision = .float32,
    layer: String? = nil
  ) throws {
    var raw = dnnl_memory_desc_t()
    let dims = dimensions.map { dnnl_dim_t($0) }
    try checkDNNL(
      dnnl_memory_desc_init_by_tag(&raw, Int32(dims.count), dims, precision.dataType, format),
      "dnnl_memory_desc_init_by_tag(\(dimensions))", layer: layer)
    self.raw = raw
  }

  /// The element type.
  var precision: Precision { raw.data_type == dnnl_bf16 ? .bfloat16 : .float32 }

  /// The same shape and layout with elements of `precision` (strides count elements, so a
  /// blocked layout stays the same layout).
  func with(precision: Precision) -> MemoryDescriptor {
    var copy = raw
    copy.data_type = precision.dataType
    return MemoryDescriptor(raw: copy)
  }

  /// A plain row-major float32 descriptor (`nc`, `nchw`, `goihw`, ... by rank).
  public static func plain(_ dimensions: [Int], layer: String? = nil) throws -> MemoryDescriptor {
    let formats: [Int: dnnl_format_tag_t] = [
      1: dnnl_a, 2: dnnl_ab, 3: dnnl_abc, 4: dnnl_abcd, 5: dnnl_abcde,
    ]
    guard let format = formats[dimensions.count] else {
      throw EngineError(
        code: .invalidConfiguration, layer: layer,
        message: "a plain tensor of rank \(dimensions.count) is not supported; use rank 1...5")
    }
    return try MemoryDescriptor(dimensions: dimensions, format: format, layer: layer)
  }

  /// A descriptor that leaves the layout to the primitive receiving it.
  public static func any(
    _ dimensions: [Int], precision: Precision = .float32, layer: String? = nil
  ) throws -> MemoryDescriptor {
    try MemoryDescriptor(
      dimensions: dimensions, format: dnnl_format_tag_any, precision: precision, layer: layer)
  }

  /// Logical dimensions.
  public var dimensions: [Int] {
    withUnsafeBytes(of: raw.dims) { bytes in
      Array(bytes.bindMemory(to: dnnl_dim_t.self).prefix(Int(raw.ndims)).map { Int($0) })
    }
  }

  /// Logical element count (product of the dimensions, without layout padding).
  public var elementCount: Int { dimensions.reduce(1, *) }

  /// Bytes the physical layout occupies, including any padding of blocked layouts.
  public var byteCount: Int {
    withUnsafePointer(to: raw) { Int(dnnl_memory_desc_get_size($0)) }
  }

  /// Whether two descriptors describe the same layout (same shape, type and blocking).
  public func isSameLayout(as other: MemoryDescriptor) -> Bool {
    withUnsafePointer(to: raw) { lhs in
      withUnsafePointer(to: other.raw) { rhs in dnnl_memory_desc_equal(lhs, rhs) != 0 }
    }
  }

  /// For a 4-D float32 or bfloat16 activation [N, C, H, W] stored as [N][C / b][H][W][b]
  /// without padding or offset, the channel block b: 1 for NCHW, C for NHWC, 8 or 16 for
  /// nChw8c / nChw16c. Nil for any other layout.
  var channelBlock: Int? {
    let dims = dimensions
    guard dims.count == 4, raw.data_type == dnnl_f32 || raw.data_type == dnnl_bf16,
      raw.format_kind == dnnl_blocked,
      raw.offset0 == 0
    else { return nil }
    let (channels, height, width) = (dims[1], dims[2], dims[3])
    let padded = withUnsafeBytes(of: raw.padded_dims) {
      Array($0.bindMemory(to: dnnl_dim_t.self).prefix(4).map { Int($0) })
    }
    let blocking = raw.format_desc.blocking
    let strides = withUnsafeBytes(of: blocking.strides) {
      Array($0.bindMemory(to: dnnl_dim_t.self).prefix(4).map { Int($0) })
    }
    guard padded == dims else { return nil }
    let image = channels * height * width
    switch blocking.inner_nblks {
    case 0 where strides == [image, height * width, width, 1]:
      return 1
    case 0 where strides == [image, 1, width * channels, channels]:
      return channels
    case 1 where blocking.inner_idxs.0 == 1:
      let block = Int(blocking.inner_blks.0)
      guard block > 0, channels % block == 0,
        strides == [image, height * width * block, width * block, block]
      else { return nil }
      return block
    default:
      return nil
    }
  }
}
