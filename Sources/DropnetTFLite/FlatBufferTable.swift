import Foundation

/// Read access to one table of a FlatBuffer (the layout `FlatBufferBuilder` writes), every
/// position bounds-checked: a field outside the buffer reads as absent.
struct FlatBufferTable {
  /// The whole buffer.
  let buffer: [UInt8]
  /// Where the table starts in `buffer`.
  let position: Int

  /// The root table of `buffer` when it carries `identifier` (4 bytes after the root offset).
  init?(root buffer: [UInt8], identifier: String) {
    guard buffer.count >= 8, Array(buffer[4..<8]) == Array(identifier.utf8),
      let root = Self.uint32(buffer, at: 0)
    else { return nil }
    self.init(buffer: buffer, position: Int(root))
  }

  private init?(buffer: [UInt8], position: Int) {
    guard position >= 0, position + 4 <= buffer.count else { return nil }
    self.buffer = buffer
    self.position = position
  }

  private static func uint32(_ buffer: [UInt8], at position: Int) -> UInt32? {
    guard position >= 0, position + 4 <= buffer.count else { return nil }
    return (0..<4).reduce(UInt32(0)) { $0 | UInt32(buffer[position + $1]) << (8 * $1) }
  }

  private static func uint16(_ buffer: [UInt8], at position: Int) -> Int? {
    guard position >= 0, position + 2 <= buffer.count else { return nil }
    return Int(buffer[position]) | Int(buffer[position + 1]) << 8
  }

  /// Where field `slot` is stored, or nil when the table does not have it.
  private func fieldPosition(_ slot: Int) -> Int? {
    guard let back = Self.uint32(buffer, at: position) else { return nil }
    let vtable = position - Int(Int32(bitPattern: back))
    guard let vtableSize = Self.uint16(buffer, at: vtable), 4 + 2 * slot < vtableSize,
      let offset = Self.uint16(buffer, at: vtable + 4 + 2 * slot), offset != 0
    else { return nil }
    return position + offset
  }

  /// The object a reference field points at.
  private func referenced(_ slot: Int) -> Int? {
    guard let field = fieldPosition(slot), let forward = Self.uint32(buffer, at: field) else {
      return nil
    }
    return field + Int(forward)
  }

  /// A 32-bit unsigned field, or `defaultValue` when absent.
  func uint32(_ slot: Int, default defaultValue: UInt32 = 0) -> UInt32 {
    fieldPosition(slot).flatMap { Self.uint32(buffer, at: $0) } ?? defaultValue
  }

  /// A table field.
  func table(_ slot: Int) -> FlatBufferTable? {
    referenced(slot).flatMap { FlatBufferTable(buffer: buffer, position: $0) }
  }

  /// A string field.
  func string(_ slot: Int) -> String? {
    guard let start = referenced(slot), let length = Self.uint32(buffer, at: start),
      start + 4 + Int(length) <= buffer.count
    else { return nil }
    return String(decoding: buffer[(start + 4)..<(start + 4 + Int(length))], as: UTF8.self)
  }

  /// A vector-of-bytes field.
  func bytes(_ slot: Int) -> [UInt8]? {
    guard let start = referenced(slot), let length = Self.uint32(buffer, at: start),
      start + 4 + Int(length) <= buffer.count
    else { return nil }
    return Array(buffer[(start + 4)..<(start + 4 + Int(length))])
  }

  /// A vector-of-tables field.
  func tables(_ slot: Int) -> [FlatBufferTable] {
    guard let start = referenced(slot), let count = Self.uint32(buffer, at: start) else {
      return []
    }
    return (0..<Int(count)).compactMap { index in
      let element = start + 4 + 4 * index
      return Self.uint32(buffer, at: element).flatMap {
        FlatBufferTable(buffer: buffer, position: element + Int($0))
      }
    }
  }
}
