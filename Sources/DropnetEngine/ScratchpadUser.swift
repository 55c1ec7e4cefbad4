/// A layer whose oneDNN primitives need scratch memory while they run.
///
/// Every primitive here is created with a user-managed scratchpad (one buffer shared by all
/// layers instead of one per primitive), so before a layer runs, point it at a buffer of at
/// least `scratchpadByteCount` bytes. Layers run one at a time can share one buffer.
public protocol ScratchpadUser: AnyObject {
  /// Bytes of scratch space the layer's largest primitive needs.
  var scratchpadByteCount: Int { get }
  /// Points every primitive of the layer at `buffer` (64-byte aligned, kept alive by the caller).
  func bindScratchpad(_ buffer: UnsafeMutableRawPointer) throws
}

extension Array where Element == Primitive {
  /// The largest scratchpad among the primitives.
  var scratchpadByteCount: Int { map(\.scratchpadByteCount).max() ?? 0 }

  /// Points every primitive's scratchpad at `buffer`.
  func bindScratchpad(_ buffer: UnsafeMutableRawPointer) throws {
    for primitive in self { try primitive.bindScratchpad(buffer) }
  }
}
