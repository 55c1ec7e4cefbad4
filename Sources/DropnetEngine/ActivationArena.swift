/// Two ping-pong activation buffers and one scratchpad buffer shared by every layer and every
/// batch-size plan of a network.
///
/// Inference only needs a layer's input until its output is written, so layer k reads one
/// buffer and writes the other: memory is 2 x the largest activation instead of the sum of all
/// (batch 32 at 224x224: ~200 MB instead of ~650 MB). Buffers only grow.
final class ActivationArena {
  /// 64-byte alignment: a cache line, and what oneDNN's own allocations use for AVX-512 loads.
  private static let alignment = 64
  private(set) var slots: [UnsafeMutableRawPointer] = []
  private(set) var slotByteCount = 0
  private(set) var scratchpad: UnsafeMutableRawPointer?
  private(set) var scratchpadByteCount = 0

  /// Grows the buffers to at least the given sizes (moving them: rebind memories afterwards).
  func reserve(slotByteCount: Int, scratchpadByteCount: Int) {
    if slotByteCount > self.slotByteCount || slots.isEmpty {
      for slot in slots { slot.deallocate() }
      let size = max(slotByteCount, ActivationArena.alignment)
      slots = (0..<2).map { _ in
        UnsafeMutableRawPointer.allocate(byteCount: size, alignment: ActivationArena.alignment)
      }
      self.slotByteCount = size
    }
    if scratchpadByteCount > self.scratchpadByteCount || scratchpad == nil {
      scratchpad?.deallocate()
      let size = max(scratchpadByteCount, ActivationArena.alignment)
      scratchpad = UnsafeMutableRawPointer.allocate(
        byteCount: size, alignment: ActivationArena.alignment)
      self.scratchpadByteCount = size
    }
  }

  deinit {
    for slot in slots { slot.deallocate() }
    scratchpad?.deallocate()
  }
}
