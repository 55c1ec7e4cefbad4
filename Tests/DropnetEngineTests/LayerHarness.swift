import XCTest

@testable import DropnetEngine

/// Runs single layers on plain host data: reorders inputs into the layouts a primitive chose,
/// gives every primitive a scratchpad, and reads results back in plain row-major order.
final class LayerHarness {
  let engine: CPUEngine
  private var scratchpads: [UnsafeMutableRawPointer] = []

  init() throws { engine = try CPUEngine() }

  deinit { for buffer in scratchpads { buffer.deallocate() } }

  /// Gives the layer its own scratchpad buffer (kept until the harness goes).
  func prepare(_ layer: ScratchpadUser) throws {
    let buffer = UnsafeMutableRawPointer.allocate(
      byteCount: max(layer.scratchpadByteCount, 64), alignment: 64)
    scratchpads.append(buffer)
    try layer.bindScratchpad(buffer)
  }

  /// A memory in `layout` holding `values`, given row-major in `layout`'s logical dimensions.
  func memory(_ values: [Float], layout: MemoryDescriptor) throws -> Memory {
    let plain = try Memory(descriptor: .plain(layout.dimensions), engine: engine)
    try plain.write(values)
    if layout.isSameLayout(as: plain.descriptor) { return plain }
    let target = try Memory(descriptor: layout, engine: engine)
    let reorder = try Reorder(from: plain.descriptor, to: layout, engine: engine, name: "to layout")
    try prepare(reorder)
    try reorder.forward(source: plain, destination: target, engine: engine)
    try engine.wait()
    return target
  }

  /// An uninitialised memory in `layout`.
  func empty(_ layout: MemoryDescriptor) throws -> Memory {
    try Memory(descriptor: layout, engine: engine)
  }

  /// The values of `memory`, row-major in its logical dimensions.
  func plainValues(_ memory: Memory) throws -> [Float] {
    try engine.wait()
    let layout = try MemoryDescriptor.plain(memory.descriptor.dimensions)
    if memory.descriptor.isSameLayout(as: layout) { return try memory.read() }
    let plain = try Memory(descriptor: layout, engine: engine)
    let reorder = try Reorder(from: memory.descriptor, to: layout, engine: engine, name: "to plain")
    try prepare(reorder)
    try reorder.forward(source: memory, destination: plain, engine: engine)
    try engine.wait()
    return try plain.read()
  }
}

/// Fails unless every |actual - expected| <= tolerance, naming the worst element.
func assertClose(
  _ actual: [Float], _ expected: [Double], tolerance: Double, _ what: String,
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(actual.count, expected.count, "\(what): element count", file: file, line: line)
  guard actual.count == expected.count, !actual.isEmpty else { return }
  var worst = 0
  var worstError = 0.0
  for index in actual.indices {
    let error = abs(Double(actual[index]) - expected[index])
    if !(error <= worstError) {
      worst = index
      worstError = error
    }
  }
  XCTAssertLessThanOrEqual(
    worstError, tolerance,
    "\(what): element \(worst) is \(actual[worst]), expected \(expected[worst])",
    file: file, line: line)
}
