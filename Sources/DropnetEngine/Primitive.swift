import CDNNL

/// A oneDNN primitive with its primitive descriptor: the one place the descriptor API is called.
///
/// Every primitive is created with a user-managed scratchpad, so it owns a scratchpad `Memory`
/// whose buffer the network points at one shared arena (`bindScratchpad`) before running it.
final class Primitive {
  /// What to fuse after the main operation.
  enum PostOperation {
    case none
    /// min(max(x, 0), 6), TF's relu6, as an eltwise clip post-op.
    case relu6
  }

  let descriptor: dnnl_primitive_desc_t
  let primitive: dnnl_primitive_t
  /// Layer name for errors.
  let name: String
  let scratchpad: Memory

  /// Creates a primitive from an operation descriptor (`dnnl_convolution_desc_t` etc.).
  convenience init<OperationDescriptor>(
    operation: inout OperationDescriptor, postOperation: PostOperation = .none,
    engine: CPUEngine, hint: Primitive? = nil, name: String
  ) throws {
    let attributes = try Primitive.makeAttributes(postOperation, name: name)
    defer { dnnl_primitive_attr_destroy(attributes) }
    var descriptor: dnnl_primitive_desc_t?
    let status = withUnsafeMutablePointer(to: &operation) { operationPointer in
      dnnl_primitive_desc_create(
        &descriptor, UnsafeRawPointer(operationPointer),
        attributes, engine.engine, hint?.descriptor)
    }
    try checkDNNL(status, "dnnl_primitive_desc_create", layer: name)
    try self.init(descriptor: descriptor!, engine: engine, name: name)
  }

  /// Creates a reorder (layout conversion) from `source` to `destination` layouts.
  convenience init(
    reorderFrom source: MemoryDescriptor, to destination: MemoryDescriptor, engine: CPUEngine,
    name: String
  ) throws {
    let attributes = try Primitive.makeAttributes(.none, name: name)
    defer { dnnl_primitive_attr_destroy(attributes) }
    var descriptor: dnnl_primitive_desc_t?
    let status = withUnsafePointer(to: source.raw) { sourcePointer in
      withUnsafePointer(to: destination.raw) { destinationPointer in
        dnnl_reorder_primitive_desc_create(
          &descriptor, sourcePointer, engine.engine, destinationPointer, engine.engine, attributes)
      }
    }
    try checkDNNL(status, "dnnl_reorder_primitive_desc_create", layer: name)
    try self.init(descriptor: descriptor!, engine: engine, name: name)
  }

  private init(descriptor: dnnl_primitive_desc_t, engine: CPUEngine, name: String) throws {
    var primitive: dnnl_primitive_t?
    let status = dnnl_primitive_create(&primitive, descriptor)
    if status != dnnl_success { dnnl_primitive_desc_destroy(descriptor) }
    try checkDNNL(status, "dnnl_primitive_create", layer: name)
    self.descriptor = descriptor
    self.primitive = primitive!
    self.name = name
    do {
      let scratchpadDescriptor = Primitive.query(descriptor, dnnl_query_scratchpad_md)
      self.scratchpad = try Memory(
        descriptor: scratchpadDescriptor, engine: engine, borrowing: nil, layer: name)
    } catch {
      dnnl_primitive_destroy(primitive)
      dnnl_primitive_desc_destroy(descriptor)
      throw error
    }
  }

  deinit {
    dnnl_primitive_destroy(primitive)
    dnnl_primitive_desc_destroy(descriptor)
  }

  private static func makeAttributes(
    _ postOperation: PostOperation, name: String
  ) throws -> dnnl_primitive_attr_t {
    var attributes: dnnl_primitive_attr_t?
    try checkDNNL(
      dnnl_primitive_attr_create(&attributes), "dnnl_primitive_attr_create", layer: name)
    do {
      try checkDNNL(
        dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user),
        "dnnl_primitive_attr_set_scratchpad_mode", layer: name)
      if case .relu6 = postOperation {
        var postOperations: dnnl_post_ops_t?
        try checkDNNL(dnnl_post_ops_create(&postOperations), "dnnl_post_ops_create", layer: name)
        defer { dnnl_post_ops_destroy(postOperations) }
        // scale 1 (no output scaling), clip to [alpha, beta] = [0, 6].
        try checkDNNL(
          dnnl_post_ops_append_eltwise(postOperations, 1, dnnl_eltwise_clip, 0, 6),
          "dnnl_post_ops_append_eltwise(clip 0..6)", layer: name)
        try checkDNNL(
          dnnl_primitive_attr_set_post_ops(attributes, postOperations),
          "dnnl_primitive_attr_set_post_ops", layer: name)
      }
    } catch {
      dnnl_primitive_attr_destroy(attributes)
      throw error
    }
    return attributes!
  }

  private static func query(
    _ descriptor: dnnl_primitive_desc_t, _ what: dnnl_query_t, index: Int32 = 0
  )
    -> MemoryDescriptor
  {
    // A query for an argument the primitive does not have returns NULL; oneDNN's convention for
    // "no such tensor" is the zero descriptor, which is what an empty MemoryDescriptor holds.
    guard let pointer = dnnl_primitive_desc_query_md(descriptor, what, index) else {
      return MemoryDescriptor(raw: dnnl_memory_desc_t())
    }
    return MemoryDescriptor(raw: pointer.pointee)
  }

  /// The layout the primitive chose for one of its tensors (`dnnl_query_src_md`, ...).
  func memoryDescriptor(_ what: dnnl_query_t, index: Int32 = 0) -> MemoryDescriptor {
    Primitive.query(descriptor, what, index: index)
  }

  /// oneDNN's name for the implementation it picked, e.g. "jit_1x1:avx2" or "ref:any".
  var implementationName: String {
    var name: UnsafePointer<CChar>?
    guard dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name) == dnnl_success,
      let name
    else { return "unknown" }
    return String(cString: name)
  }

  /// Bytes of scratch space the primitive needs while it runs.
  var scratchpadByteCount: Int { scratchpad.descriptor.byteCount }

  /// Points the scratchpad at a buffer of at least `scratchpadByteCount` bytes.
  func bindScratchpad(_ buffer: UnsafeMutableRawPointer?) throws {
    try scratchpad.setDataHandle(buffer)
  }

  /// Submits the primitive to the stream with `(DNNL_ARG_*, memory)` arguments.
  func execute(_ arguments: [(Int32, Memory)], on engine: CPUEngine) throws {
    var execArguments = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.raw) }
    execArguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratchpad.raw))
    let status = dnnl_primitive_execute(
      primitive, engine.stream, Int32(execArguments.count), execArguments)
    try checkDNNL(status, "dnnl_primitive_execute", layer: name)
  }
}
