import CDNNL

/// Copies a tensor from one layout to another (e.g. NHWC host data to oneDNN's blocked nChw8c).
///
///   source, destination  same logical dims, different physical layouts
public final class Reorder: ScratchpadUser {
  /// Layer name for errors.
  public let name: String
  let primitive: Primitive

  /// Creates a reorder between two layouts of the same logical tensor.
  public init(
    from source: MemoryDescriptor, to destination: MemoryDescriptor, engine: CPUEngine,
    name: String
  ) throws {
    self.name = name
    primitive = try Primitive(reorderFrom: source, to: destination, engine: engine, name: name)
  }

  /// destination = source, converted between layouts.
  public func forward(source: Memory, destination: Memory, engine: CPUEngine) throws {
    try primitive.execute([(DNNL_ARG_FROM, source), (DNNL_ARG_TO, destination)], on: engine)
  }

  /// Reorders (and the transpose a backward pass needs) are their own backward: the backward of
  /// a layout change is the reverse layout change, a second `Reorder`.

  var primitives: [Primitive] { [primitive] }

  public var scratchpadByteCount: Int { primitives.scratchpadByteCount }

  public func bindScratchpad(_ buffer: UnsafeMutableRawPointer) throws {
    try primitives.bindScratchpad(buffer)
  }
}
