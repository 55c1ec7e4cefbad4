import CDNNL

/// A oneDNN memory object: a buffer plus the `MemoryDescriptor` saying how to read it.
///
/// The buffer is either allocated by oneDNN (and freed with the object) or borrowed from the
/// caller through `setDataHandle`, which is how activations share one arena and how host inputs
/// are read in place without a copy.
public final class Memory {
  let raw: dnnl_memory_t
  /// Shape and layout of the buffer.
  public let descriptor: MemoryDescriptor

  /// Creates a memory object that owns a buffer of `descriptor.byteCount` bytes.
  public init(descriptor: MemoryDescriptor, engine: CPUEngine, layer: String? = nil) throws {
    // DNNL_MEMORY_ALLOCATE is ((void *)(size_t)-1): ask oneDNN to allocate the buffer.
    let allocate = UnsafeMutableRawPointer(bitPattern: -1)
    self.raw = try Memory.create(descriptor, engine, handle: allocate, layer: layer)
    self.descriptor = descriptor
  }

  /// Creates a memory object over a caller-owned buffer (or none yet: set it before use).
  init(
    descriptor: MemoryDescriptor, engine: CPUEngine, borrowing handle: UnsafeMutableRawPointer?,
    layer: String? = nil
  ) throws {
    self.raw = try Memory.create(descriptor, engine, handle: handle, layer: layer)
    self.descriptor = descriptor
  }

  private static func create(
    _ descriptor: MemoryDescriptor, _ engine: CPUEngine, handle: UnsafeMutableRawPointer?,
    layer: String?
  ) throws -> dnnl_memory_t {
    var memory: dnnl_memory_t?
    let status = withUnsafePointer(to: descriptor.raw) {
      dnnl_memory_create(&memory, $0, engine.engine, handle)
    }
    try checkDNNL(status, "dnnl_memory_create(\(descriptor.dimensions))", layer: layer)
    return memory!
  }

  deinit { dnnl_memory_destroy(raw) }

  /// The buffer the memory currently reads and writes.
  public var dataHandle: UnsafeMutableRawPointer? {
    var handle: UnsafeMutableRawPointer?
    dnnl_memory_get_data_handle(raw, &handle)
    return handle
  }

  /// Points the memory at a caller-owned buffer of at least `descriptor.byteCount` bytes.
  func setDataHandle(_ handle: UnsafeMutableRawPointer?) throws {
    try checkDNNL(
      dnnl_memory_set_data_handle(raw, handle), "dnnl_memory_set_data_handle", layer: nil)
  }

  /// Copies row-major values into a memory whose layout is plain (no blocking or padding).
  public func write(_ values: [Float]) throws {
    try requirePlain(count: values.count)
    values.withUnsafeBytes { source in
      dataHandle!.copyMemory(from: source.baseAddress!, byteCount: source.count)
    }
  }

  /// Reads the values of a memory whose layout is plain (no blocking or padding), row-major.
  public func read() throws -> [Float] {
    let count = descriptor.elementCount
    try requirePlain(count: count)
    let source = dataHandle!.assumingMemoryBound(to: Float.self)
    return Array(UnsafeBufferPointer(start: source, count: count))
  }

  private func requirePlain(count: Int) throws {
    let plain = try MemoryDescriptor.plain(descriptor.dimensions)
    guard count == descriptor.elementCount, descriptor.isSameLayout(as: plain), dataHandle != nil
    else {
      throw EngineError(
        code: .invalidInput,
        message: "host copy of \(count) values into a \(descriptor.dimensions) memory of "
          + "\(descriptor.byteCount) bytes: reorder to a plain layout first")
    }
  }
}
